// Free and total bytes of the file system holding a directory (statfs), for the
// status page's "disk almost full" warning. A missing directory is no answer,
// not an error: a server that has written nothing yet may not have one.

import { promises as fsp } from 'node:fs';

export interface DiskSpace {
  path: string;
  freeBytes: number;
  totalBytes: number;
}

export async function diskSpace(path: string): Promise<DiskSpace | null> {
  try {
    const st = await fsp.statfs(path);
    return { path, freeBytes: st.bavail * st.bsize, totalBytes: st.blocks * st.bsize };
  } catch {
    return null;
  }
}
