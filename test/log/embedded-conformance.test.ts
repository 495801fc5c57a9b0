// Runs the shared log conformance suite against the embedded backend.
import { runLogConformance } from './conformance.js';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';

runLogConformance('embedded', async () => {
  const dir = tempDir();
  return {
    open: async () => openEmbedded(dir),
    cleanup: async () => removeDir(dir),
    holderArgs: ['embedded', dir],
  };
});
