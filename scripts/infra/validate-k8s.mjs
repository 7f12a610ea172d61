// Validates every manifest in infra/k8s/ against the Kubernetes OpenAPI schemas
// (kubernetes-models: one generated JSON-schema validator per apiVersion/kind, no cluster needed).
// A kind without a known model fails too, so a typo in apiVersion or kind cannot slip through.
//   npm run check:infra
import * as appsV1 from 'kubernetes-models/apps/v1';
import * as autoscalingV2 from 'kubernetes-models/autoscaling/v2';
import * as policyV1 from 'kubernetes-models/policy/v1';
import * as coreV1 from 'kubernetes-models/v1';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';

// The API groups our manifests use; a manifest of any other fails as unknown (add its group here).
const MODELS = { 'apps/v1': appsV1, 'autoscaling/v2': autoscalingV2, 'policy/v1': policyV1, v1: coreV1 };
const dir = new URL('../../infra/k8s/', import.meta.url).pathname;
const failures = [];
let count = 0;

for (const file of readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort()) {
  for (const doc of parseAllDocuments(readFileSync(join(dir, file), 'utf8'))) {
    if (doc.errors.length > 0) { failures.push(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`); continue; }
    const manifest = doc.toJS();
    if (!manifest) continue;
    const { apiVersion, kind } = manifest;
    const where = `${file}: ${kind}/${manifest.metadata?.name ?? '?'}`;
    const Model = MODELS[apiVersion]?.[kind];
    if (!Model) { failures.push(`${where}: unknown apiVersion/kind ${apiVersion} ${kind}`); continue; }
    try {
      new Model(manifest).validate();
      count++;
    } catch (err) {
      failures.push(`${where}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}

if (failures.length > 0) {
  process.stderr.write(`infra/k8s: ${failures.length} invalid manifest(s):\n${failures.map((f) => `  ${f}`).join('\n')}\n`);
  process.exit(1);
}
process.stdout.write(`infra/k8s: ${count} manifests valid\n`);
