// @peculiar/x509 pulls in tsyringe, which refuses to load without the Reflect metadata API
// (normally the `reflect-metadata` package, not installed here). x509 only needs the four calls
// below to exist; this minimal, spec-shaped version keeps metadata in a WeakMap per target.
type Key = unknown;
const store = new WeakMap<object, Map<Key, unknown>>();

interface ReflectMetadata {
  getMetadata?: (key: Key, target: object) => unknown;
  getOwnMetadata?: (key: Key, target: object) => unknown;
  defineMetadata?: (key: Key, value: unknown, target: object) => void;
  metadata?: (key: Key, value: unknown) => (target: object) => void;
}

const R = Reflect as unknown as ReflectMetadata;
if (typeof R.getMetadata !== "function") {
  R.getOwnMetadata = (key, target) => store.get(target)?.get(key);
  R.getMetadata = (key, target) => {
    for (let t: object | null = target; t; t = Object.getPrototypeOf(t)) {
      const map = store.get(t);
      if (map?.has(key)) return map.get(key);
    }
    return undefined;
  };
  R.defineMetadata = (key, value, target) => {
    let map = store.get(target);
    if (!map) {
      map = new Map();
      store.set(target, map);
    }
    map.set(key, value);
  };
  R.metadata = (key, value) => (target) => R.defineMetadata?.(key, value, target);
}
