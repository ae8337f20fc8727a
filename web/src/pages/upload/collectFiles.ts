// Files from a drop (files and whole folders, via webkitGetAsEntry) or from the two inputs.
export interface Picked {
  file: File;
  /** The path inside a dropped or chosen folder ("holiday/day1/a.jpg"), else the file name. */
  path: string;
}

const hidden = (name: string) => name.startsWith(".");

function readFile(entry: FileSystemFileEntry): Promise<File> {
  return new Promise((resolve, reject) => entry.file(resolve, reject));
}

function readBatch(reader: FileSystemDirectoryReader): Promise<FileSystemEntry[]> {
  return new Promise((resolve, reject) => reader.readEntries(resolve, reject));
}

async function walk(entry: FileSystemEntry, prefix: string): Promise<Picked[]> {
  if (hidden(entry.name)) return [];
  if (entry.isFile) {
    const file = await readFile(entry as FileSystemFileEntry);
    return [{ file, path: prefix + file.name }];
  }
  if (!entry.isDirectory) return [];
  const reader = (entry as FileSystemDirectoryEntry).createReader();
  const out: Picked[] = [];
  // readEntries answers in batches (about 100 in Chromium) until an empty one
  for (let batch = await readBatch(reader); batch.length > 0; batch = await readBatch(reader)) {
    for (const child of batch) out.push(...(await walk(child, `${prefix}${entry.name}/`)));
  }
  return out;
}

/** Call synchronously inside the drop handler: the items are only valid during the event. */
export function filesFromDrop(data: DataTransfer): Promise<Picked[]> {
  const entries = Array.from(data.items ?? [])
    .filter((item) => item.kind === "file")
    .map((item) => (typeof item.webkitGetAsEntry === "function" ? item.webkitGetAsEntry() : null));
  if (entries.length === 0 || entries.some((entry) => entry === null)) {
    return Promise.resolve(filesFromList(data.files));
  }
  return Promise.all(entries.map((entry) => walk(entry as FileSystemEntry, ""))).then((lists) => lists.flat());
}

export function filesFromList(files: FileList | readonly File[] | null): Picked[] {
  return Array.from(files ?? [])
    .filter((file) => !hidden(file.name))
    .map((file) => ({ file, path: file.webkitRelativePath || file.name }));
}
