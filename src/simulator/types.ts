/**
 * The public shape of the Graph Security API simulator: its options, its handle, fault knobs and log entries.
 * Kept apart from the server so that tests and the CLI can import the types without pulling in the HTTP code.
 */
import type { Resource } from '../record/types.js';
import type { GraphObject } from './generate.js';

/** An app registration the simulated Entra ID accepts: one per tenant (an MSSP runs one app across tenants). */
export interface TenantCredentials {
  tenantId: string;
  clientId: string;
  clientSecret: string;
  /**
   * PEM certificate (or public key) of the app, to accept `client_assertion` (certificate credentials). Without it a
   * well-formed assertion naming the client is accepted unverified.
   */
  certificatePem?: string;
  /**
   * Application permissions the tenant's admin consented to (the token's `roles`). Graph answers 403 to a request
   * its roles do not cover — e.g. a PATCH of an alert without `SecurityAlert.ReadWrite.All`.
   * @defaultValue every security permission, read and write
   */
  roles?: string[];
}

/**
 * The demo tenant and app: fixed, so that `alertbridge demo`, docs and tests can name them. Not a secret: it only
 * opens the local simulator.
 */
export const DEMO_TENANT: Readonly<TenantCredentials> = Object.freeze({
  tenantId: '8f6e4d2c-1a3b-4c5d-9e7f-0a1b2c3d4e5f',
  clientId: '3c9b1a7e-5d2f-4e8a-b6c4-d1e2f3a4b5c6',
  clientSecret: 'sim~demo-secret-do-not-use-in-production',
});

/**
 * Failure modes Graph shows in production, to make clients prove they cope. All default to off; change them at run
 * time with `sim.setFaults()` or `POST /_sim/faults`.
 */
export interface SimulatorFaults {
  /** Share (0..1) of Graph requests answered 429 TooManyRequests. @defaultValue 0 */
  throttleRate?: number;
  /** `Retry-After` of 429s, in seconds; fractional like Graph's `2.128`. @defaultValue 2.128 */
  retryAfterS?: number;
  /** Share (0..1) of Graph requests answered 503 ServiceUnavailable (with `Retry-After`). @defaultValue 0 */
  unavailableRate?: number;
  /**
   * Legacy-alert provider(s) (`vendorInformation.provider`, e.g. `MCAS`) that "time out": their alerts are left out
   * and the answer is 206 with `Warning: 199 - "{Vendor}/{Provider}/504/10000"`. @defaultValue none
   */
  partialProvider?: string | string[] | null;
  /**
   * Answer every Graph request with this HTTP status (4xx or 5xx) and Graph's error body, e.g. 403 `Forbidden` as when
   * the app's admin consent was withdrawn, 400, 410, or 500. Applied after the budget, before the random draws.
   * @defaultValue none
   */
  errorStatus?: number | null;
  /** Delay before every Graph response, in ms. @defaultValue 0 */
  slowMs?: number;
  /** Delay before every answer of the token endpoint, in ms (a stalled Entra ID). @defaultValue 0 */
  slowTokenMs?: number;
  /** Lifetime of tokens issued from now on, in seconds (short values exercise refresh). @defaultValue the option */
  tokenLifetimeS?: number;
  /**
   * Access tokens Graph refuses with 401 `InvalidAuthenticationToken` although they have not expired, as after an
   * admin revokes the app's tokens (continuous access evaluation) or rotates its secret:
   * `'issued'` refuses every token issued before the knob was set (tokens issued since are accepted; setting it
   * again revokes those too), `'all'` refuses every token. Logged with `fault: 'revoked'`. @defaultValue none
   */
  revokeTokens?: 'issued' | 'all' | null;
  /**
   * Graph's documented security budget, per app per tenant per rolling minute (Graph: 150). Requests beyond it get
   * 429 (and still count, as in Graph). 0 or unset: no budget.
   */
  requestBudgetPerMinute?: number;
  /**
   * Origin (`https://host:port`) that `@odata.nextLink`s point to instead of the simulator's own: a Graph answer
   * leading the client elsewhere, which must not follow it with its token. @defaultValue the simulator's origin
   */
  nextLinkOrigin?: string | null;
  /**
   * The next N writes (a PATCH, a comment POST) are applied, then answered 500 `InternalServerError`, as when a gateway
   * times out after the backend committed: a client that resends a non-idempotent request doubles it. Counts down;
   * logged with `fault: 'committed_then_500'`. @defaultValue 0
   */
  commitThenFail?: number;
  /**
   * The legacy `/security/alerts` API after its retirement (2026-10-15 in the global cloud): lists answer 200 with
   * no alerts and no nextLink, reads by id 404, although the alerts still exist in the simulator (alerts_v2 carries
   * on). Logged with `fault: 'retired'`. @defaultValue false
   */
  legacyRetired?: boolean;
}

/** A change of fault knobs: `null` resets a knob to its default. */
export type SimulatorFaultsUpdate = { [K in keyof SimulatorFaults]?: SimulatorFaults[K] | null };

/** One request the simulator answered: what tests assert on (`sim.requestLog`, `GET /_sim/log`). */
export interface RequestLogEntry {
  /** When the request arrived (the simulator clock), ISO 8601. */
  at: string;
  method: string;
  path: string;
  /** Decoded query parameters (`$filter`, `$top`, …). */
  query: Record<string, string>;
  /** From the token (Graph routes) or the path (token routes); null when unknown. */
  tenant: string | null;
  clientId?: string;
  status: number;
  /** The Graph resource (`alerts_v2`, `alerts`, …), `token`, `openid-configuration`, `subscriptions`, …. */
  resource?: string;
  /** Legacy provider or v2 serviceSource, when the request concerned one. */
  provider?: string;
  /** Which fault answered: `throttle`, `budget`, `unavailable`, `partial`, `revoked`, `error`. */
  fault?: string;
  /** Items in the response page, for list requests. */
  items?: number;
  /** Graph-like mode: objects changed (updated or given evidence) right after this page was cut. */
  changed?: number;
  /**
   * Request headers as received (names lowercased; repeated ones joined with `, `), so tests can assert what a
   * client sent (`prefer`, `client-request-id`, …). `authorization` and `cookie` are left out: the log is served
   * over `/_sim/log` and printed by tests, and a bearer token is a secret.
   */
  headers: Record<string, string>;
  ms: number;
}

/** One outgoing call of the subscription machinery (validation handshake, notification, lifecycle). */
export interface DeliveryLogEntry {
  at: string;
  kind: 'validation' | 'notification' | 'lifecycle';
  subscriptionId: string | null;
  url: string;
  /** HTTP status, or 0 for a network error / timeout. */
  status: number;
  /** Notifications in the POST. */
  items: number;
  attempt: number;
  ms: number;
  error?: string;
}

/** Tuning of change-notification delivery; short values under test, Graph-like ones by default. */
export interface SubscriptionOptions {
  /** How long the validation endpoint has to answer. @defaultValue 10000 (Graph: 10 s) */
  validationTimeoutMs?: number;
  /** Notifications are gathered this long and sent together (several per POST). @defaultValue 200 */
  batchMs?: number;
  /** Most notifications per POST. @defaultValue 50 */
  maxBatch?: number;
  /** First retry delay after a failed delivery; doubles each time. @defaultValue 5000 */
  retryBaseMs?: number;
  /** A notification not delivered within this window is dropped. @defaultValue 14400000 (Graph: 4 h) */
  retryWindowMs?: number;
  /** A delivery slower than this counts as failed. @defaultValue 3000 (Graph expects 2xx within 3 s) */
  deliveryTimeoutMs?: number;
  /**
   * Providers whose alerts send no notifications (Graph cannot subscribe to them).
   * @defaultValue `['Microsoft Defender ATP', 'Office 365 Security and Compliance']`
   */
  unsubscribableProviders?: string[];
}

/**
 * `graphLike` mode: alerts_v2 and incidents listed the way real Graph lists them rather than the friendly keyset
 * default — newest first, `$skip` nextLinks, `$top` clamped, nextLinks dropped past a depth, only the documented OData
 * subset, and objects changing while a client walks the pages. Sources of each behaviour: docs/simulator.md.
 */
export interface GraphLikeOptions {
  /** `$top` above this is silently clamped (not refused). @defaultValue `{alerts_v2: 1000, incidents: 50}` */
  maxTop?: { alerts_v2?: number; incidents?: number };
  /**
   * No `@odata.nextLink` is given once the next page would start this many items deep (`$skip` ≥ maxDepth): the walk
   * ends silently with items left unread. @defaultValue 1000
   */
  maxDepth?: number;
  /** Order without `$orderby`: newest first by this field. @defaultValue 'lastUpdateDateTime' */
  defaultOrderField?: 'lastUpdateDateTime' | 'createdDateTime';
  /**
   * On each list request, this many random objects among those the request's `$filter` matches get a new revision
   * (status moves on, update time bumped to now) after the page is cut: the window shifts under an offset walk.
   * @defaultValue 0
   */
  updatesPerPage?: number;
  /** Likewise, objects (alerts_v2 only) that get one more evidence item and a bumped lastUpdateDateTime. @defaultValue 0 */
  evidencePerPage?: number;
  /**
   * Likewise, alerts_v2 objects that get one more evidence item WITHOUT a bumped lastUpdateDateTime (Defender has been
   * seen doing this): the same revision field, a richer object. @defaultValue 0
   */
  silentEvidencePerPage?: number;
  /** Most changes made by the three knobs above in all, from now on (null: no cap). @defaultValue null */
  maxChanges?: number | null;
}

/** A change of graph-like knobs: `null` resets a knob to its default. */
export type GraphLikeUpdate = { [K in keyof GraphLikeOptions]?: GraphLikeOptions[K] | null };

export interface SimulatorOptions {
  /** 0 picks a free port. @defaultValue 0 */
  port?: number;
  /** @defaultValue 127.0.0.1 */
  host?: string;
  /** Extra DNS names / IPs for the server certificate (besides 127.0.0.1, localhost, ::1). */
  hostnames?: string[];
  /** Where the CA certificate (`graph-simulator-ca.pem`) is written. @defaultValue a new temp dir, removed on close */
  dir?: string;
  /** @defaultValue one tenant: {@link DEMO_TENANT} */
  tenants?: TenantCredentials[];
  /** Seed of generated data and of fault draws. @defaultValue 1 */
  seed?: number;
  /** New alerts per second per tenant from a timer; 0: only what tests create. @defaultValue 0 */
  rate?: number;
  /** Share (0..1) of timer events that update an existing alert instead of creating one. @defaultValue 0.3 */
  updateRatio?: number;
  /**
   * Objects pre-created per tenant: a number for every resource, or per resource. Alerts are spread over the last
   * day (secure scores: one per day up to today). @defaultValue 0
   */
  initial?: number | Partial<Record<Resource, number>>;
  /** Page size of alerts_v2 / incidents / legacy (per provider) when no `$top` is given. @defaultValue 100 */
  pageSize?: number;
  /** @defaultValue 3599 */
  tokenLifetimeS?: number;
  faults?: SimulatorFaults;
  /** Time source for tokens, update times and the log. @defaultValue the wall clock */
  clock?: () => Date;
  /** Oldest entries are dropped past this many (long demo runs). @defaultValue 10000 */
  logLimit?: number;
  /** Most objects kept per tenant and resource; the oldest are forgotten past it. @defaultValue 50000 */
  retain?: number;
  subscriptions?: SubscriptionOptions;
  /**
   * List alerts_v2 and incidents like real Graph (see {@link GraphLikeOptions}); `true` takes every default. Off by
   * default: the friendly keyset paging that serves each object exactly once. @defaultValue false
   */
  graphLike?: boolean | GraphLikeOptions;
  /**
   * Called once each request has fully arrived (body read), before it is handled (the request log has it only once
   * answered): lets a test act at the moment a request reaches "Graph", e.g. kill the client while its PATCH is
   * being applied. Throwing from it answers 500 without handling the request (it never reached Graph).
   */
  onRequest?: (req: { method: string; path: string; body: string }) => void;
  /**
   * Publish the Defender XDR Streaming API's AlertInfo/AlertEvidence events of each alerts_v2 the simulator creates
   * to this Event Hub (streaming.ts), for the `defender_streaming` source. @defaultValue none
   */
  streaming?: { connectionString: string; eventHubName?: string };
}

export interface Simulator {
  /** Graph base: `${url}/v1.0/security/alerts_v2`. */
  readonly url: string;
  /** Entra ID authority host (same server): tokens at `${authorityHost}/{tenant}/oauth2/v2.0/token`. */
  readonly authorityHost: string;
  readonly port: number;
  /** Path of the PEM CA certificate that signed the server certificate. */
  readonly caFile: string;
  readonly caPem: string;
  readonly tenants: readonly TenantCredentials[];
  /**
   * The tenant's admin changes what the app is consented to (its application permissions): tokens issued from now
   * on carry these `roles` (undefined: every security permission); tokens already issued keep theirs, as in Entra ID.
   */
  consent(tenantId: string, roles: string[] | undefined): void;
  /** Every request answered, oldest first (the same array for the simulator's life). */
  readonly requestLog: RequestLogEntry[];
  /** Every validation, notification and lifecycle call made to subscribers. */
  readonly deliveryLog: DeliveryLogEntry[];
  clearLog(): void;
  /** Creates one object (no incident grouping) as the current revision; returns it. */
  create(tenantId: string, resource: Resource, overrides?: GraphObject): GraphObject;
  /**
   * Creates `count` objects (no incident grouping); returns them. `sameTime`: they all share one update time
   * (`lastModifiedDateTime`, `lastUpdateDateTime`, …), as after a bulk import — the case that defeats time-sliced
   * paging. `provider`: legacy alerts of that provider only (`MCAS`, `ASC`, …). `overrides`: top-level fields.
   * `variety` (alerts_v2, incidents): only that many are generated, the rest are copies with their own id and update
   * time — much faster for paging tests of tens of thousands of objects.
   */
  createMany(
    tenantId: string,
    resource: Resource,
    count: number,
    opts?: { sameTime?: boolean; provider?: string; overrides?: GraphObject; variety?: number },
  ): GraphObject[];
  /** Stores and returns the next revision of an object (update time bumped, state moved on). */
  update(tenantId: string, resource: Resource, id: string): GraphObject;
  /** Current revisions, in creation order. */
  list(tenantId: string, resource: Resource): GraphObject[];
  /** Merges into the current faults; `null`/`undefined` values reset a knob. */
  setFaults(faults: SimulatorFaultsUpdate): void;
  readonly faults: Readonly<SimulatorFaults>;
  /**
   * Adds one evidence item to an alerts_v2 alert. `bump` (default true) moves lastUpdateDateTime to now; `bump: false`
   * keeps it, as Defender has been seen to do. Returns the stored alert.
   */
  addEvidence(tenantId: string, id: string, opts?: { bump?: boolean }): GraphObject;
  /** Current graph-like settings, or null when the mode is off. */
  readonly graphLike: Readonly<Required<GraphLikeOptions>> | null;
  /** Turns graph-like mode on (merging knobs; `null` resets one) or off (`false`), at run time. */
  setGraphLike(update: GraphLikeUpdate | boolean): void;
  /** Sends a lifecycle notification (`reauthorizationRequired`, …) to the subscription's lifecycle URL. */
  lifecycle(subscriptionId: string, event: string): Promise<number>;
  /** Stops the timer, pending deliveries and the server; idempotent. */
  close(): Promise<void>;
}
