/** REST bodies of the credential broker (`/broker/*`) that the `sesame` CLI is built on. */

/** The registration token prefix `sesame login` recognises. */
export const REGISTRATION_TOKEN_PREFIX = 'sesame-register:';

/** `POST /broker/registration-tokens` (admin): the token is shown once and is single use. */
export interface RegistrationToken {
  id: string;
  /** `sesame-register:…` */
  token: string;
  /** The handle the registered agent gets; null lets the device choose. */
  handle: string | null;
  expiresAt: string;
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
