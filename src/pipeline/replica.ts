/**
 * The replica id: one per process, minted once by whoever assembles the process (`buildApp`) and passed down. It
 * names this process wherever Redis needs to tell replicas apart — the consumer name in the inbox and notification
 * consumer groups, the owner of poll and subscription leases — so one process is one name in `XINFO CONSUMERS`,
 * in lease values and in logs.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

/** `{hostname}-{pid}-{6 hex}`: the host and pid for people, the random part so a restarted pid is a new replica. */
export function mintReplicaId(): string {
  return `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
}
