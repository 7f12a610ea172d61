/** REST bodies of the credential broker (`/broker/*`) that the `sesame` CLI is built on. */

/** The registration token prefix `sesame login` recognises. */
export const REGISTRATION_TOKEN_PREFIX = 'sesame-register:';

/**
 * A vault membership a registration token or a claim approval gives the agent it registers, in
 * the same transaction: `requester` (the usual role) lets it ask for leases at once.
 */
export interface BrokerVaultGrant {
  vaultId: string;
  role: 'owner' | 'editor' | 'viewer' | 'requester';
}

/** `POST /broker/registration-tokens` (admin): the token is shown once and is single use. */
export interface RegistrationToken {
  id: string;
  /** `sesame-register:…` */
  token: string;
  /** The handle the registered agent gets; null lets the device choose. */
  handle: string | null;
  expiresAt: string;
  /** Vault memberships the agent gets when it registers. */
  vaults: BrokerVaultGrant[];
}

/**
 * `POST /broker/claims` (no credential): a device asks to become an agent, the agent-initiated
 * mode of `sesame login` (OAuth 2.0 device authorization grant, RFC 8628). The device keeps
 * `deviceCode` and polls with it, signed by its key; a human opens `verificationUriComplete`
 * (or types `userCode` at `verificationUri`) in the console to approve.
 */
export interface BrokerClaimStart {
  /** Secret: only the device that opened the claim holds it. */
  deviceCode: string;
  /** `ABCD-EFGH`: what the human checks on the claim page. */
  userCode: string;
  /** The console's claim page. */
  verificationUri: string;
  /** The claim page for this user code. */
  verificationUriComplete: string;
  /** Seconds until the claim expires. */
  expiresIn: number;
  /** Seconds to wait between polls. */
  interval: number;
}

/** `POST /broker/claims/token`: not decided yet (`slow_down`: poll less often, every `interval` seconds). */
export interface BrokerClaimPending {
  status: 'authorization_pending' | 'slow_down';
  interval: number;
}

/** The prefix of the message a device signs to poll its claim: `sesame-claim:<deviceCode>`. */
export const CLAIM_POLL_SIGNATURE_PREFIX = 'sesame-claim:';

export type BrokerClaimStatus = 'pending' | 'approved' | 'denied' | 'expired';

/** `GET /broker/claims/:userCode` (admin): what the console shows before a human decides. */
export interface BrokerClaim {
  id: string;
  userCode: string;
  status: BrokerClaimStatus;
  /** The handle the device suggested; the approver may choose another. */
  handle: string | null;
  displayName: string | null;
  /** SHA-256 of the device's public key, hex, first 32 characters (what `sesame status` prints). */
  fingerprint: string;
  publicKey: string;
  createdAt: string;
  expiresAt: string;
  decidedAt: string | null;
  /** The agent the approval created. */
  agentId: string | null;
}

/** `POST /broker/claims/:userCode/approve` (admin). */
export interface ApproveBrokerClaimInput {
  /** Default: the device's suggestion, else a generated `agent-…`. */
  handle?: string;
  displayName?: string;
  vaults?: BrokerVaultGrant[];
}

/** `POST /broker/request`: the call the broker makes on the agent's behalf. */
export interface BrokerRequestInput {
  method: string;
  /** Full URL, `https://host/path?query`. */
  url: string;
  /** Extra headers; credentials (`Authorization`, `X-API-Key`, …) are stripped by the broker. */
  headers?: Record<string, string>;
  body?: string;
  /**
   * Wait for a human's approval when the hostname needs it (default `true`, up to the server's
   * `SESAME_BROKER_APPROVAL_WAIT_SECONDS`). With `false`, the broker answers at once with
   * `{approval: 'pending'}` instead.
   */
  waitForApproval?: boolean;
}

/** The upstream's answer; never holds the credential the broker attached. */
export interface BrokerResponse {
  status_code: number;
  headers: Record<string, string>;
  body: string;
  /** The body was cut at the server's response size cap. */
  truncated?: boolean;
}

/** `POST /broker/request` with `waitForApproval: false` while a human has not approved yet (`202`). */
export interface BrokerApprovalPending {
  approval: 'pending';
  hostname: string;
  leaseId: string;
}

/** `GET /broker/hostnames`: a hostname the caller can reach through the broker (no secret). */
export interface BrokerHostname {
  hostname: string;
  itemId: string;
  itemName: string;
  vaultId: string;
  /** `bearer`, `basic`, `header` or `query`. */
  injection: string;
  /** Whether the caller holds an active lease for it (no approval wait). */
  approved: boolean;
}
