#!/usr/bin/env node
// Container health check: exits 0 when this process's API (`PORT`, /api/v1/health) or gateway
// (`GATEWAY_PORT`, /health) answers healthy on loopback, 1 otherwise. The worker serves no HTTP,
// so deployments disable the check for it (see infra/compose.yaml).
const targets = [
  `http://127.0.0.1:${process.env.PORT || 13531}/api/v1/health`,
  `http://127.0.0.1:${process.env.GATEWAY_PORT || 13532}/health`,
];

async function healthy(url) {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    return res.ok && (await res.json()).status === 'healthy';
  } catch {
    return false;
  }
}

const results = await Promise.all(targets.map(healthy));
process.exit(results.some(Boolean) ? 0 : 1);
