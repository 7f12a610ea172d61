import { sql, type Kysely } from 'kysely';

/**
 * `audit_append(workspace, entries)`: appends entries to a workspace's audit hash chain in one
 * statement (one round trip for a whole group-committed batch, instead of lock, head read and
 * insert as separate statements). It takes the workspace's chain lock (the same advisory lock
 * every appender takes), reads the head — a VOLATILE function's statements each see what was
 * committed before they ran, so the head read comes after the lock — and inserts the entries in
 * array order, each `hash = sha256(prev_hash ‖ canonical)` in hex, `canonical` being the
 * entry's canonical JSON computed by the caller (the chain's `prefixed` format, which the
 * verifier recomputes from the stored columns).
 */
const up = [
  `CREATE FUNCTION audit_append(p_workspace text, p_entries jsonb) RETURNS void LANGUAGE plpgsql VOLATILE AS $$
  DECLARE
    prev text;
    entry jsonb;
    next_hash text;
  BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('audit:' || p_workspace));
    SELECT hash INTO prev FROM audit_log WHERE workspace_id = p_workspace ORDER BY id DESC LIMIT 1;
    prev := coalesce(prev, repeat('0', 64));
    FOR entry IN SELECT e.value FROM jsonb_array_elements(p_entries) WITH ORDINALITY AS e(value, n) ORDER BY e.n LOOP
      next_hash := encode(sha256(convert_to(prev || (entry->>'canonical'), 'UTF8')), 'hex');
      INSERT INTO audit_log (workspace_id, actor_id, action, target_type, target_id, data, at, prev_hash, hash)
      VALUES (p_workspace, entry->>'actor_id', entry->>'action', entry->>'target_type', entry->>'target_id', entry->'data',
              (entry->>'at')::timestamptz, prev, next_hash);
      prev := next_hash;
    END LOOP;
  END $$`,
];

const down = ['DROP FUNCTION IF EXISTS audit_append(text, jsonb)'];

export const auditAppend = {
  up: (db: Kysely<any>) => runStatements(db, up),
  down: (db: Kysely<any>) => runStatements(db, down),
};

// Frozen with this migration: a migration never imports another file that may change later.
async function runStatements(db: Kysely<any>, statements: string[]) {
  for (const statement of statements) await sql.raw(statement).execute(db);
}
