/** The CLI's help texts: `sesame help`, `sesame <group> --help`. */
export const TOP_HELP = `sesame — send authenticated HTTP requests through your Sesame broker.
The broker attaches the credential bound to the target hostname on the server; you never see it.

Usage: sesame <command> [options]

Commands:
  login       Register this device's agent with a broker (approved in the dashboard, or with a token)
  status      Show the device identity, its agents and whether tokens are present
  hostnames   List the hostnames you can call through the broker
  request     Send an HTTP request through the broker (like curl)
  refresh     Renew the active agent's tokens (Ed25519 challenge-response)
  switch      Make another registered agent the active one
  agents      List or deregister this device's agents
  secret      Create or list secrets bound to hostnames (humans and admins)
  help        Show this help, or a command's: sesame help <command>

Run sesame <command> --help for a command's options.
Exit codes: 0 success (request: HTTP 2xx); 1 failure (request: non-2xx, denied, connection error); 2 usage error.
`;

export const GROUP_HELP: Record<string, string> = {
  login: `Usage: sesame login [--broker-url URL] [sesame-register:<token> | --bootstrap-token <token>] [--new] [--handle HANDLE]

Registers this device's agent: generates the Ed25519 device key (mode 0600 under
$XDG_CONFIG_HOME/sesame/, default ~/.config/sesame/) on first use, registers it with the broker
and saves the broker URL for every later command. The private key never leaves this device.

Mode B (default, no token): agent-initiated. Prints a claim URL and a code on stderr:
  Open https://<broker>/claim/ABCD-EFGH to approve this agent (code ABCD-EFGH)
then waits (up to 10 minutes) while a workspace admin opens it in the Sesame dashboard, checks
the code and the device fingerprint, and approves. Denied or expired: exit 1 with the reason.
Mode A: an admin created a registration link (createRegistrationToken); pass its token.

Options:
  --broker-url URL         The broker (your Sesame API URL). Saved; default https://getsesame.dev
  sesame-register:<token>  Mode A: the registration token an admin created
  --bootstrap-token T      Mode A: the same token passed as an option
  --new                    Register an additional agent when one is already registered
  --handle HANDLE          The new agent's handle when the token names none (Mode B: a suggestion
                           the approving admin may change)
`,
  status: `Usage: sesame status

Prints the device fingerprint, the agents registered on this device (* marks the active one),
the active agent and whether tokens are present. Exit 1 when no agent is ready.
`,
  hostnames: `Usage: sesame hostnames [--json]

Lists the hostnames that have a secret you may use. Only use sesame request for these.
  --json   Machine-readable output: a JSON array of hostnames
`,
  request: `Usage: sesame request <METHOD> <URL> [-H "Key: Value"]... [-d BODY] [--raw]

Sends the request through the broker, which attaches the credential bound to the URL's
hostname and enforces the secret's policy. The first request to a hostname may wait (up to 5
minutes) until a human approves it; a message on stderr says so.

Options:
  -H, --header "Key: Value"   Extra header (repeatable). Do not pass auth headers: the broker adds them
  -d, --data BODY             Request body (set Content-Type for JSON)
  --raw                       Print only the response body

Output: {"status_code": <code>, "body": "<body>"}, or the body alone with --raw.
Exit 0 on HTTP 2xx; 1 on any other status, a policy denial ("Access denied: …") or a connection error.
`,
  refresh: `Usage: sesame refresh

Renews the active agent's tokens: spends the refresh token, or signs in again with the device key.
`,
  switch: `Usage: sesame switch <AGENT>

Makes another agent registered on this device the active one (by id or handle).
`,
  agents: `Usage: sesame agents <list|deregister> [AGENT]

  list                 The agents registered on this device (* marks the active one)
  deregister [AGENT]   Take an agent out (default: the active one): the broker disables it and
                       this device forgets it
`,
  secret: `Usage: sesame secret <create|list> [options]

For humans and admins: authenticates as the active agent, or with an API key
(--api-key KEY or $SESAME_API_KEY, against the saved broker or --broker-url URL).

  list [--vault VAULT]
      The secrets you can see, with their hostnames (values are never printed)
  create --name NAME --hostname HOST [--vault VAULT_ID] (--value-stdin | --token VALUE)
         [--injection bearer|basic|header:NAME|query:NAME] [--username USER] [--policy-json JSON]
      Stores a secret bound to HOST (the vault may be left out when you see only one).
      --value-stdin reads the value from stdin, keeping it out of the shell history.
      --injection: how the broker attaches it (default bearer: Authorization: Bearer <value>;
      basic needs --username and takes the value as the password; header:X-API-Key; query:key).
      --policy-json restricts its use, e.g. GET only: --policy-json '{"allowed_methods":["GET"]}'
      Policy keys: allowed_methods, allowed_paths (globs such as /v1/**), denied_paths,
      allowed_subdomains, path_rules [{"path": "/v1/chat/**", "methods": ["POST"]}] (taking
      precedence over allowed_methods and allowed_paths); {} is full access.
`,
};
