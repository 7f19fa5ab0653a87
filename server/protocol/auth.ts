// The sign-in part of the wire protocol (GET /v1/auth/config, the RFC 8628 device grant).
// Shared by the server and the extension; imports only zod.
import * as z from 'zod';

export const DEVICE_GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:device_code';

export const AuthConfigResponse = z.object({
  /** "oidc-device": POST /v1/auth/device then poll /v1/auth/token; "token": a token from `elevate-server token issue` */
  methods: z.array(z.enum(['oidc-device', 'token'])),
  oidc: z
    .object({
      issuer: z.string(),
      deviceAuthorizationEndpoint: z.string(),
      tokenEndpoint: z.string(),
      verificationUri: z.string(),
    })
    .optional(),
  sessionTtlSeconds: z.number().int().positive(),
});
export type AuthConfigResponse = z.infer<typeof AuthConfigResponse>;

/** RFC 8628 §3.1 (the client's name is shown on the verification page, to help spot phishing) */
export const DeviceAuthorizationRequest = z.object({
  client_id: z.string().max(200).optional(),
  client_name: z.string().max(100).optional(),
  scope: z.string().max(500).optional(),
});

/** RFC 8628 §3.2 */
export const DeviceAuthorizationResponse = z.object({
  device_code: z.string(),
  user_code: z.string(),
  verification_uri: z.string(),
  verification_uri_complete: z.string(),
  expires_in: z.number().int().positive(),
  interval: z.number().int().positive(),
});
export type DeviceAuthorizationResponse = z.infer<typeof DeviceAuthorizationResponse>;

/** RFC 8628 §3.4 */
export const DeviceTokenRequest = z.object({
  grant_type: z.string(),
  device_code: z.string().max(200),
  client_id: z.string().max(200).optional(),
});

/** RFC 6749 §5.1 */
export const DeviceTokenResponse = z.object({
  access_token: z.string(),
  token_type: z.literal('Bearer'),
  expires_in: z.number().int().positive(),
});
export type DeviceTokenResponse = z.infer<typeof DeviceTokenResponse>;

/** RFC 6749 §5.2 with the RFC 8628 §3.5 codes */
export const DeviceTokenError = z.object({
  error: z.enum(['authorization_pending', 'slow_down', 'expired_token', 'access_denied', 'invalid_grant', 'unsupported_grant_type', 'invalid_request']),
  error_description: z.string().optional(),
});
export type DeviceTokenError = z.infer<typeof DeviceTokenError>;

/** POST /v1/auth/logout */
export const LogoutResponse = z.object({ signedOut: z.literal(true) });
