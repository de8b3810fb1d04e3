import { inject } from 'vitest';
import { openEmbedded, openMongo } from '../helpers/stores.ts';
import { apiKeysContract } from './api-keys-contract.ts';

const server = inject('mongoServer');

apiKeysContract('embedded', (clock) => openEmbedded(clock));
apiKeysContract(`mongo (${server})`, (clock) => openMongo(clock));
