import { Type } from '@sinclair/typebox';
import type { FastifyReply } from 'fastify';
import type { ServiceContext } from '../../../shared/context.js';
import { caller } from '../../../shared/http/authentication.js';
import { Data, errorResponses, NoContent } from '../../../shared/http/schemas.js';
import type { TypedApp } from '../../../shared/http/typed-app.js';
import { leaseToWire } from '../../../shared/vault/lease-rows.js';
import {
  AddMemberBody, ApproveLeaseBody, CreateItemBody, CreateVaultBody, DenyLeaseBody, FieldValues, ItemIdParams, LeaseIdParams, ListItemsQuery,
  ListLeasesQuery, MemberParams, RenewLeaseBody, RequestLeaseBody, RevealBody, UpdateItemBody, UpdateMaskingPolicyBody, VaultIdParams,
  VaultItemSchema, VaultLeaseSchema, VaultMemberSchema, VaultSchema,
} from './schemas.js';
import * as vaults from './service.js';
import { itemToWire, memberToWire, vaultToWire } from './wire.js';

const tags = ['vault'];
const ItemDetails = Type.Object({ item: VaultItemSchema, fieldKeys: Type.Array(Type.String()), fieldHints: FieldValues });
const Fields = Type.Object({ fields: FieldValues });
const Totp = Type.Object({ code: Type.String(), expiresIn: Type.Integer(), period: Type.Integer() });

/** Answers carrying plaintext are never stored by a cache on the way. */
function noStore(reply: FastifyReply) {
  void reply.header('cache-control', 'no-store');
}

/**
 * The vault: vaults and members, sealed items (masked on read, revealed to owners and editors),
 * TOTP codes and just-in-time leases. Access rules live in `service.ts`.
 */
export async function vaultRoutes(app: TypedApp, ctx: ServiceContext) {
  const actor = (request: Parameters<typeof caller>[0]) => vaults.vaultActor(caller(request));

  app.get('/vaults', {
    config: { scope: 'read' },
    schema: { tags, summary: 'The vaults you belong to (every vault of the workspace for an admin)', response: { 200: Data(Type.Array(VaultSchema)), ...errorResponses } },
  }, async (request) => {
    const rows = await vaults.listVaults(ctx.db, actor(request));
    return { data: rows.map(({ vault, role }) => vaultToWire(vault, role)) };
  });

  app.post('/vaults', {
    config: { scope: 'write' },
    schema: { tags, summary: 'Create a vault; you become its owner', body: CreateVaultBody, response: { 201: Data(VaultSchema), ...errorResponses } },
  }, async (request, reply) => {
    const vault = await vaults.createVault(ctx, actor(request), request.body);
    reply.status(201);
    return { data: vaultToWire(vault, 'owner') };
  });

  app.get('/vaults/:vaultId/members', {
    config: { scope: 'read' },
    schema: { tags, summary: 'The vault\'s members and their roles (any member)', params: VaultIdParams, response: { 200: Data(Type.Array(VaultMemberSchema)), ...errorResponses } },
  }, async (request) => {
    const rows = await vaults.listVaultMembers(ctx.db, actor(request), request.params.vaultId);
    return { data: rows.map(memberToWire) };
  });

  app.post('/vaults/:vaultId/members', {
    config: { scope: 'write' },
    schema: { tags, summary: 'Add a member or change its role (vault owner or admin)', params: VaultIdParams, body: AddMemberBody, response: { 201: Data(VaultMemberSchema), ...errorResponses } },
  }, async (request, reply) => {
    const member = await vaults.addVaultMember(ctx, actor(request), request.params.vaultId, request.body.principalId, request.body.role);
    reply.status(201);
    return { data: memberToWire(member) };
  });

  app.delete('/vaults/:vaultId/members/:principalId', {
    config: { scope: 'write' },
    schema: { tags, summary: 'Remove a member (vault owner or admin); the last owner stays', params: MemberParams, response: { 204: NoContent, ...errorResponses } },
  }, async (request, reply) => {
    await vaults.removeVaultMember(ctx, actor(request), request.params.vaultId, request.params.principalId);
    return reply.status(204).send(null);
  });

  app.put('/vaults/:vaultId/masking-policy', {
    config: { scope: 'write' },
    schema: { tags, summary: 'Set which field keys are masked (vault owner or admin)', params: VaultIdParams, body: UpdateMaskingPolicyBody, response: { 200: Data(VaultSchema), ...errorResponses } },
  }, async (request) => {
    const vault = await vaults.updateMaskingPolicy(ctx, actor(request), request.params.vaultId, request.body);
    return { data: vaultToWire(vault, 'owner') };
  });

  app.get('/vaults/:vaultId/items', {
    config: { scope: 'read' },
    schema: { tags, summary: 'A vault\'s items; q searches titles, tags and hostnames (never values)', params: VaultIdParams, querystring: ListItemsQuery, response: { 200: Data(Type.Array(VaultItemSchema)), ...errorResponses } },
  }, async (request) => {
    const items = await vaults.listVaultItems(ctx.db, actor(request), request.params.vaultId, request.query);
    return { data: items.map(itemToWire) };
  });

  app.post('/vaults/:vaultId/items', {
    config: { scope: 'write' },
    schema: { tags, summary: 'Create an item; its field values are sealed (owners and editors)', params: VaultIdParams, body: CreateItemBody, response: { 201: Data(VaultItemSchema), ...errorResponses } },
  }, async (request, reply) => {
    const item = await vaults.createVaultItem(ctx, actor(request), request.params.vaultId, request.body);
    reply.status(201);
    return { data: itemToWire(item) };
  });

  app.get('/vaults/items/:itemId', {
    config: { scope: 'read' },
    schema: { tags, summary: 'An item with its field keys and masked hints', params: ItemIdParams, response: { 200: Data(ItemDetails), ...errorResponses } },
  }, async (request, reply) => {
    noStore(reply);
    return { data: await vaults.describeVaultItem(ctx, actor(request), request.params.itemId) };
  });

  app.patch('/vaults/items/:itemId', {
    config: { scope: 'write' },
    schema: { tags, summary: 'Change an item: fields given are added or replaced, removeFields dropped (owners and editors)', params: ItemIdParams, body: UpdateItemBody, response: { 200: Data(VaultItemSchema), ...errorResponses } },
  }, async (request) => {
    return { data: itemToWire(await vaults.updateVaultItem(ctx, actor(request), request.params.itemId, request.body)) };
  });

  app.delete('/vaults/items/:itemId', {
    config: { scope: 'write' },
    schema: { tags, summary: 'Delete an item and its leases (owners and editors)', params: ItemIdParams, response: { 204: NoContent, ...errorResponses } },
  }, async (request, reply) => {
    await vaults.deleteVaultItem(ctx, actor(request), request.params.itemId);
    return reply.status(204).send(null);
  });

  app.post('/vaults/items/:itemId/reveal', {
    config: { scope: 'write' },
    schema: { tags, summary: 'Decrypted values of all or some fields (owners and editors; audited)', params: ItemIdParams, body: RevealBody, response: { 200: Data(Fields), ...errorResponses } },
  }, async (request, reply) => {
    noStore(reply);
    return { data: { fields: await vaults.revealItem(ctx, actor(request), request.params.itemId, request.body.fields) } };
  });

  app.post('/vaults/items/:itemId/totp', {
    config: { scope: 'write' },
    schema: { tags, summary: 'The current RFC 6238 code of the item\'s TOTP secret (owners and editors; audited)', params: ItemIdParams, response: { 200: Data(Totp), ...errorResponses } },
  }, async (request, reply) => {
    noStore(reply);
    return { data: await vaults.generateItemTotp(ctx, actor(request), request.params.itemId) };
  });

  app.post('/vaults/leases', {
    config: { scope: 'write' },
    schema: { tags, summary: 'Ask for just-in-time access to an item; approvers receive vault.lease_request', body: RequestLeaseBody, response: { 201: Data(VaultLeaseSchema), ...errorResponses } },
  }, async (request, reply) => {
    const lease = await vaults.requestLease(ctx, actor(request), request.body);
    reply.status(201);
    return { data: leaseToWire(lease) };
  });

  app.get('/vaults/leases', {
    config: { scope: 'read' },
    schema: { tags, summary: 'Leases you asked for and those you may decide', querystring: ListLeasesQuery, response: { 200: Data(Type.Array(VaultLeaseSchema)), ...errorResponses } },
  }, async (request) => {
    return { data: (await vaults.listLeases(ctx.db, actor(request), request.query)).map(leaseToWire) };
  });

  app.post('/vaults/leases/:leaseId/approve', {
    config: { scope: 'write' },
    schema: { tags, summary: 'Approve a pending lease (vault owner or admin, never its requester)', params: LeaseIdParams, body: ApproveLeaseBody, response: { 200: Data(VaultLeaseSchema), ...errorResponses } },
  }, async (request) => {
    return { data: leaseToWire(await vaults.approveLease(ctx, actor(request), request.params.leaseId, request.body)) };
  });

  app.post('/vaults/leases/:leaseId/deny', {
    config: { scope: 'write' },
    schema: { tags, summary: 'Deny a pending lease; one denial ends it', params: LeaseIdParams, body: DenyLeaseBody, response: { 200: Data(VaultLeaseSchema), ...errorResponses } },
  }, async (request) => {
    return { data: leaseToWire(await vaults.denyLease(ctx, actor(request), request.params.leaseId, request.body)) };
  });

  app.post('/vaults/leases/:leaseId/use', {
    config: { scope: 'write' },
    schema: { tags, summary: 'The item\'s fields through an approved lease (its requester only, until it expires; audited)', params: LeaseIdParams, response: { 200: Data(Fields), ...errorResponses } },
  }, async (request, reply) => {
    noStore(reply);
    const { fields } = await vaults.useSecret(ctx, actor(request), request.params.leaseId);
    return { data: { fields } };
  });

  app.post('/vaults/leases/:leaseId/renew', {
    config: { scope: 'write' },
    schema: { tags, summary: 'Extend a lease, at most the vault\'s max TTL from now (its requester)', params: LeaseIdParams, body: RenewLeaseBody, response: { 200: Data(VaultLeaseSchema), ...errorResponses } },
  }, async (request) => {
    return { data: leaseToWire(await vaults.renewLease(ctx, actor(request), request.params.leaseId, request.body.ttlSeconds)) };
  });

  app.post('/vaults/leases/:leaseId/revoke', {
    config: { scope: 'write' },
    schema: { tags, summary: 'End a lease at once, for good (requester, vault owner or admin)', params: LeaseIdParams, response: { 200: Data(VaultLeaseSchema), ...errorResponses } },
  }, async (request) => {
    return { data: leaseToWire(await vaults.revokeLease(ctx, actor(request), request.params.leaseId)) };
  });
}
