import { inject } from 'vitest';
import { openEmbedded, openMongo } from '../helpers/stores.ts';
import { clientsContract } from './clients-contract.ts';

const server = inject('mongoServer');

clientsContract('embedded', (clock) => openEmbedded(clock));
clientsContract(`mongo (${server})`, (clock) => openMongo(clock));
