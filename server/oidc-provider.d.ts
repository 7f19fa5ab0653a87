// oidc-provider ships no types; server/demo/idp.ts declares the slice it uses.
declare module 'oidc-provider';
