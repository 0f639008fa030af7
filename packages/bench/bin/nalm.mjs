#!/usr/bin/env node
// The `nalm` command. Sources are TypeScript; tsx compiles them on the fly (no build step).
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
