import { openEmbedded, openMongo } from '../helpers/stores.ts';
import { accountsContract } from './accounts-contract.ts';

accountsContract('embedded', (clock) => openEmbedded(clock));
accountsContract('mongo', (clock) => openMongo(clock));
