import { openEmbedded } from '../helpers/stores.ts';
import { oidcAdapterContract } from './oidc-adapter-contract.ts';
import { storageContract } from './storage-contract.ts';

storageContract('embedded', (clock, options) => openEmbedded(clock, options));
oidcAdapterContract('embedded', (clock) => openEmbedded(clock));
