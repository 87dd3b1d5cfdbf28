import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/** A language model the operator registered (global, not per tenant): served by name. */
@Entity('models')
export class ModelEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Index('UQ_models_name', { unique: true })
  @Column({ type: 'text' })
  name: string;

  /** sha256 over config + weights + tokenizer at import time; derived data (KV caches) is keyed by it. */
  @Column({ type: 'text' })
  fingerprint: string;

  /** Absolute path of the model directory on the serving machines. */
  @Column({ type: 'text' })
  directory: string;

  /** 'safetensors' (engram builds the graph) or 'onnx' (an HF/optimum export). */
  @Column({ type: 'text' })
  format: string;

  /** Normalised config summary (layers, hidden size, context length…), for listing. */
  @Column({ type: 'jsonb', default: () => "'{}'" })
  config: Record<string, unknown>;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
