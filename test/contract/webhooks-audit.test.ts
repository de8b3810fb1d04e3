import { openEmbedded, openMongo } from '../helpers/stores.ts';
import { webhooksAuditContract } from './webhooks-audit-contract.ts';

webhooksAuditContract('embedded', (clock) => openEmbedded(clock));
webhooksAuditContract('mongo', (clock) => openMongo(clock));
