import { describe, expect, it } from 'vitest';
import { MissingCredentialFieldError, credentialValues, injectCredential } from '../src/api/routes/broker/injection.js';
import { hostAllowed, pathMatches, policyDenial } from '../src/api/routes/broker/policy.js';
import { parseBrokerPolicy } from '../src/api/routes/vaults/schemas.js';
import type { BrokerPolicy, SecretInjection } from '@sesamespace/sdk/protocol';

describe('broker policy: which requests a secret may be attached to', () => {
  const cases: Array<[string, BrokerPolicy, string, string, string | undefined]> = [
    ['{} is full access', {}, 'DELETE', '/anything/at/all', undefined],
    ['allowed_methods allows a listed method', { allowed_methods: ['GET'] }, 'GET', '/x', undefined],
    ['allowed_methods is case-insensitive', { allowed_methods: ['get'] }, 'GET', '/x', undefined],
    ['allowed_methods refuses another method, naming the rule', { allowed_methods: ['GET'] }, 'POST', '/x', 'Access denied: method POST not in allowed_methods [GET]'],
    ['allowed_paths allows a path under /v1/**', { allowed_paths: ['/v1/**'] }, 'GET', '/v1/models/x', undefined],
    ['/v1/** matches /v1 itself', { allowed_paths: ['/v1/**'] }, 'GET', '/v1', undefined],
    ['/v1/** does not match /v10', { allowed_paths: ['/v1/**'] }, 'GET', '/v10', 'Access denied: path /v10 not in allowed_paths [/v1/**]'],
    ['allowed_paths refuses another path', { allowed_paths: ['/v1/**'] }, 'GET', '/v2/models', 'Access denied: path /v2/models not in allowed_paths [/v1/**]'],
    ['* stays inside one segment', { allowed_paths: ['/repos/*'] }, 'GET', '/repos/a/b', 'Access denied: path /repos/a/b not in allowed_paths [/repos/*]'],
    ['* matches one segment', { allowed_paths: ['/repos/*'] }, 'GET', '/repos/a', undefined],
    ['** in the middle crosses segments', { allowed_paths: ['/a/**/z'] }, 'GET', '/a/b/c/z', undefined],
    ['a dot in a glob is literal', { allowed_paths: ['/v1.json'] }, 'GET', '/v1xjson', 'Access denied: path /v1xjson not in allowed_paths [/v1.json]'],
    ['denied_paths refuses, naming the rule', { denied_paths: ['/admin/**'] }, 'GET', '/admin/users', 'Access denied: path /admin/users matches denied_paths [/admin/**]'],
    ['denied_paths wins over allowed_paths', { allowed_paths: ['/**'], denied_paths: ['/admin/**'] }, 'GET', '/admin', 'Access denied: path /admin matches denied_paths [/admin/**]'],
    ['denied_paths wins over path_rules', { path_rules: [{ path: '/admin/**', methods: ['GET'] }], denied_paths: ['/admin/**'] }, 'GET', '/admin/x', 'Access denied: path /admin/x matches denied_paths [/admin/**]'],
    ['a matching path rule takes precedence over allowed_methods', { allowed_methods: ['GET'], path_rules: [{ path: '/v1/chat/**', methods: ['POST'] }] }, 'POST', '/v1/chat/completions', undefined],
    ['a matching path rule refuses methods it does not list', { allowed_methods: ['GET', 'POST'], path_rules: [{ path: '/v1/chat/**', methods: ['POST'] }] }, 'GET', '/v1/chat/x', 'Access denied: method GET not in path_rules[0].methods [POST] for /v1/chat/**'],
    ['a matching path rule takes precedence over allowed_paths', { allowed_paths: ['/v1/**'], path_rules: [{ path: '/v2/**', methods: ['GET'] }] }, 'GET', '/v2/x', undefined],
    ['the first matching rule decides', { path_rules: [{ path: '/a/**', methods: ['GET'] }, { path: '/a/b', methods: ['POST'] }] }, 'POST', '/a/b', 'Access denied: method POST not in path_rules[0].methods [GET] for /a/**'],
    ['no matching rule falls back to allowed_methods', { allowed_methods: ['GET'], path_rules: [{ path: '/v1/chat/**', methods: ['POST'] }] }, 'POST', '/v2', 'Access denied: method POST not in allowed_methods [GET]'],
  ];

  it.each(cases)('%s', (_name, policy, method, path, expected) => {
    expect(policyDenial(policy, method, path)).toBe(expected);
  });

  it('allows the hostname itself and only the subdomains allowed_subdomains lists', () => {
    expect(hostAllowed({}, 'api.github.com', 'API.github.com.')).toBe(true);
    expect(hostAllowed({}, 'api.github.com', 'uploads.api.github.com')).toBe(false);
    expect(hostAllowed({ allowed_subdomains: ['uploads'] }, 'api.github.com', 'uploads.api.github.com')).toBe(true);
    expect(hostAllowed({ allowed_subdomains: ['uploads.api.github.com'] }, 'api.github.com', 'uploads.api.github.com')).toBe(true);
    expect(hostAllowed({ allowed_subdomains: ['uploads'] }, 'api.github.com', 'other.api.github.com')).toBe(false);
    expect(hostAllowed({ allowed_subdomains: ['*'] }, 'api.github.com', 'a.b.api.github.com')).toBe(true);
    // A suffix that is not a label boundary is another host.
    expect(hostAllowed({ allowed_subdomains: ['*'] }, 'github.com', 'evilgithub.com')).toBe(false);
    expect(hostAllowed({ allowed_subdomains: ['*'] }, 'api.github.com', 'github.com')).toBe(false);
  });

  it('matches globs anchored at both ends', () => {
    expect(pathMatches('/v1/*', '/v1/x')).toBe(true);
    expect(pathMatches('/v1/*', '/prefix/v1/x')).toBe(false);
    expect(pathMatches('/v1/?', '/v1/ab')).toBe(false);
  });
});

describe('broker credential injection', () => {
  const url = new URL('https://api.example.com/v1/x?a=1');
  const agentHeaders = { Authorization: 'Bearer agent-forged', 'X-API-Key': 'agent-key', Cookie: 'c=1', Host: 'evil', 'Content-Type': 'application/json', 'X-Custom': 'kept' };
  const fields = { token: 'tok-secret', username: 'ada', password: 'pw-secret' };

  const cases: Array<[string, SecretInjection, string, Record<string, string>]> = [
    ['bearer', { mode: 'bearer' }, 'https://api.example.com/v1/x?a=1', { authorization: 'Bearer tok-secret' }],
    ['basic', { mode: 'basic' }, 'https://api.example.com/v1/x?a=1', { authorization: `Basic ${Buffer.from('ada:pw-secret').toString('base64')}` }],
    ['header with a name', { mode: 'header', name: 'X-API-Key' }, 'https://api.example.com/v1/x?a=1', { 'x-api-key': 'tok-secret' }],
    ['header with another name', { mode: 'header', name: 'X-Token' }, 'https://api.example.com/v1/x?a=1', { 'x-token': 'tok-secret' }],
    ['query parameter', { mode: 'query', name: 'key' }, 'https://api.example.com/v1/x?a=1&key=tok-secret', {}],
  ];

  it.each(cases)('%s: attaches the credential and strips what the agent sent', (_name, injection, expectedUrl, credentialHeaders) => {
    const prepared = injectCredential(injection, fields, url, agentHeaders);
    expect(prepared.url).toBe(expectedUrl);
    expect(prepared.headers).toEqual({ 'content-type': 'application/json', 'x-custom': 'kept', ...credentialHeaders });
  });

  it('replaces a query parameter of the same name the agent sent', () => {
    const prepared = injectCredential({ mode: 'query', name: 'key' }, fields, new URL('https://h/p?key=forged'), {});
    expect(prepared.url).toBe('https://h/p?key=tok-secret');
  });

  it('names a missing field, never a value', () => {
    expect(() => injectCredential({ mode: 'bearer' }, { password: 'pw-secret' }, url, {})).toThrow(MissingCredentialFieldError);
    expect(() => injectCredential({ mode: 'bearer' }, { password: 'pw-secret' }, url, {})).toThrow("The secret has no 'token' field to attach");
  });

  it('lists every value to scrub from an answer, longest first, with the Basic encoding', () => {
    expect(credentialValues({ mode: 'basic' }, fields)).toEqual([Buffer.from('ada:pw-secret').toString('base64'), 'tok-secret', 'pw-secret']);
    expect(credentialValues({ mode: 'bearer' }, { token: 'tok-secret', short: 'ab' })).toEqual(['tok-secret']);
  });
});

describe('broker policy: what a policy may hold', () => {
  it('a path glob with an unpaired surrogate is a 422 naming it (jsonb cannot store it); emoji and other text are kept', () => {
    for (const path of ['/a\ud800', '/\udc00b/**', '/x\ud83d']) {
      expect(() => parseBrokerPolicy({ allowed_paths: ['/ok', path] })).toThrow(/policy\.allowed_paths\.1/);
      expect(() => parseBrokerPolicy({ path_rules: [{ path, methods: ['GET'] }] })).toThrow(/policy\.path_rules\.0\.path/);
    }
    expect(() => parseBrokerPolicy({ denied_paths: ['/a\u0000'] })).toThrow(/policy\.denied_paths\.0/);
    const kept = { allowed_paths: ['/😀/**', '/é/中/*'], denied_paths: ['/\u{1F9D1}\u200D\u{1F4BB}'] };
    expect(parseBrokerPolicy(kept)).toEqual(kept);
  });
});
