import { TopicRegistry, type Bus, type BusHandler, type BusMessage } from './bus.js';

/** In-process bus for the embedded single-process mode. Delivery is async, like Redis. */
export class MemoryBus implements Bus {
  private readonly registry = new TopicRegistry();

  /** In process, subscribers get `message` itself: nothing is serialised (a given body is not needed). */
  async publish(topic: string, message: BusMessage): Promise<void> {
    queueMicrotask(() => { this.registry.dispatch(topic, message); });
  }

  subscribe(topic: string, handler: BusHandler): () => void {
    this.registry.add(topic, handler);
    let active = true;
    return () => {
      if (!active) return;
      active = false;
      this.registry.remove(topic, handler);
    };
  }

  async ready(): Promise<void> {}
  onReconnect(): () => void { return () => {}; }
  async close(): Promise<void> {}
}
