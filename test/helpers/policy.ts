// The shared test policy: one of everything the contract's policy can express, with people in
// every role. FakeClock starts on Monday 2026-01-05 09:00 UTC, inside the `reports` window.
//
//   requesters  alice (developers) · dave (developers, oncall)
//   approvers   bob (dba: staging-db, prod-db, payments, reports) · erin, frank (sre: prod-k8s, incident)
//   carol admin · audrey auditor · svc service
export const TEST_POLICY = `
users:
  - id: alice
    name: Alice Liddell
    groups: [developers]
  - id: dave
    name: Dave Lister
    groups: [developers, oncall]
  - id: bob
    groups: [dba]
  - id: erin
    groups: [sre]
  - id: frank
    groups: [sre]
  - id: carol
    roles: [admin]
  - id: audrey
    roles: [auditor]
  - id: svc
    roles: [service]
resources:
  # auto-approval for developers (read up to 1h); write waits for a dba; extensions of up to
  # 30m are applied at once, never past 3h after the start
  - id: staging-db
    name: Staging database
    roles: [read, write]
    maxDuration: 2h
    approval:
      approvers: [group:dba]
      autoApprove:
        - roles: [read]
          maxDuration: 1h
          groups: [developers]
    extension:
      maxTotal: 3h
      withoutApproval: 30m
  # one approval from a dba; every extension needs approval
  - id: prod-db
    name: Production database
    roles: [read, write]
    maxDuration: 4h
    pendingTtl: 30m
    approval:
      approvers: [group:dba]
      required: 1
    extension:
      maxTotal: 6h
  # two distinct approvals from sre
  - id: prod-k8s
    roles: [view, admin]
    maxDuration: 2h
    approval:
      approvers: [group:sre]
      required: 2
  # a ticket is required
  - id: payments
    roles: [read]
    maxDuration: 1h
    requireTicket: true
    approval:
      approvers: [group:dba]
  # break glass: self-service with a justification, flagged and announced to sre and admins
  - id: incident
    roles: [admin]
    maxDuration: 1h
    breakGlass: true
    approval:
      approvers: [group:sre]
  # auto-approved only inside office hours (UTC)
  - id: reports
    roles: [read]
    maxDuration: 2h
    approval:
      approvers: [group:dba]
      autoApprove:
        - roles: [read]
          maxDuration: 2h
          window: "Mon-Fri 08:00-18:00 UTC"
`;

export const USERS = ['alice', 'dave', 'bob', 'erin', 'frank', 'carol', 'audrey', 'svc'] as const;
export type TestUser = (typeof USERS)[number];
