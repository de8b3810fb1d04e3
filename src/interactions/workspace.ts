/**
 * The workspace an OAuth client belongs to: extra client metadata `workspace_id` (oidc-provider
 * keeps unrecognised metadata under its own name) or a `workspaceId` property.
 */
export function clientWorkspaceId(client: object): string | undefined {
  const c = client as { workspace_id?: unknown; workspaceId?: unknown };
  const v = c.workspace_id ?? c.workspaceId;
  return typeof v === 'string' && v ? v : undefined;
}
