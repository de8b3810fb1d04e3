import type { Clock, Collection, Storage } from '../storage/port.ts';
import {
  claimsSpec,
  type DeliveryClaim,
  deliveriesSpec,
  endpointsSpec,
  markersSpec,
  type WebhookDelivery,
  type WebhookEndpoint,
  type WebhookMarker,
} from './model.ts';
import type { SecretBox } from './secret-box.ts';

/** The collections of the webhook domain, declared once and shared by service, queue and scanner. */
export interface WebhookCollections {
  endpoints: Collection<WebhookEndpoint & { id: string }>;
  deliveries: Collection<WebhookDelivery & { id: string }>;
  markers: Collection<WebhookMarker & { id: string }>;
  claims: Collection<DeliveryClaim>;
}

export function webhookCollections(storage: Storage): WebhookCollections {
  return {
    endpoints: storage.collection<WebhookEndpoint>(endpointsSpec),
    deliveries: storage.collection<WebhookDelivery>(deliveriesSpec),
    markers: storage.collection<WebhookMarker>(markersSpec),
    claims: storage.collection<DeliveryClaim>(claimsSpec),
  };
}

/**
 * The secrets an endpoint signs with right now, current first: the previous one too while its
 * rotation grace lasts. Opening uses the endpoint id as context (see SecretBox).
 */
export function signingSecrets(endpoint: WebhookEndpoint, box: SecretBox, clock: Clock): string[] {
  const secrets = [box.open(endpoint.secret, endpoint.id)];
  if (
    endpoint.previousSecret &&
    endpoint.previousSecretExpiresAt &&
    endpoint.previousSecretExpiresAt.getTime() > clock.now().getTime()
  ) {
    secrets.push(box.open(endpoint.previousSecret, endpoint.id));
  }
  return secrets;
}
