// Every migration, in order. `engram migrate generate NAME` writes a new file and appends it here.
import { MemoryAccess1796025865170 } from './1796025865170-MemoryAccess';
import { ApiKeyNotify1795970000000 } from './1795970000000-ApiKeyNotify';
import { WorkingMemoryRefusals1795963172279 } from './1795963172279-WorkingMemoryRefusals';
import { BankBlockWrites1795954733476 } from './1795954733476-BankBlockWrites';
import { WorkingMemory1795956408738 } from './1795956408738-WorkingMemory';
import { CubeLabelIndex1795953579477 } from './1795953579477-CubeLabelIndex';
import { PendingEmbeddingIndex1795953458295 } from './1795953458295-PendingEmbeddingIndex';
import { CostScopes1795949091660 } from './1795949091660-CostScopes';
import { Quotas1795948027264 } from './1795948027264-Quotas';
import { Erase1795945695751 } from './1795945695751-Erase';
import { Lifecycle1795943903663 } from './1795943903663-Lifecycle';
import { BankBlocks1795901935063 } from './1795901935063-BankBlocks';
import { BankReplay1795900482287 } from './1795900482287-BankReplay';
import { ParametricBanks1795894426976 } from './1795894426976-ParametricBanks';
import { ModelsAndKvCaches1795892734249 } from './1795892734249-ModelsAndKvCaches';
import { PlaintextMemories1795892029642 } from './1795892029642-PlaintextMemories';
import { Init1795891592271 } from './1795891592271-Init';
export const MIGRATIONS: Function[] = [Init1795891592271, PlaintextMemories1795892029642, ModelsAndKvCaches1795892734249, ParametricBanks1795894426976, BankReplay1795900482287, BankBlocks1795901935063, Lifecycle1795943903663, Erase1795945695751, Quotas1795948027264, CostScopes1795949091660, PendingEmbeddingIndex1795953458295, CubeLabelIndex1795953579477, BankBlockWrites1795954733476, WorkingMemory1795956408738, WorkingMemoryRefusals1795963172279, ApiKeyNotify1795970000000, MemoryAccess1796025865170];
