// Where Airlock keeps its state: $AIRLOCK_HOME, decided by src/gateway/home.ts (one owner for it
// until the home layout moves to its own part, docs/design.md §2.3).
export { airlockHome } from "../protocol/home.ts";
