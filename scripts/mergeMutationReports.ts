// Merges Stryker reports of disjoint `--mutate` shards (e.g. one per folder) into one file that
// `npm run mutate` can use as its incremental baseline. The shards mutate different files but run
// the same tests, under ids each run numbers for itself: a test is one test by its file and name,
// so every shard's ids are renumbered into one set and the mutants' coveredBy/killedBy rewritten.
//
//   node --import tsx scripts/mergeMutationReports.ts OUT IN1 IN2 ...
import { readFileSync, writeFileSync } from 'node:fs';

interface Test { id: string; name: string; [k: string]: unknown }
interface Mutant { coveredBy?: string[] | undefined; killedBy?: string[] | undefined; [k: string]: unknown }
interface Report {
  files: Record<string, { mutants: Mutant[]; [k: string]: unknown }>;
  testFiles?: Record<string, { tests: Test[]; [k: string]: unknown }>;
  [k: string]: unknown;
}

const [out, ...inputs] = process.argv.slice(2);
if (out === undefined || inputs.length === 0) {
  console.error('usage: mergeMutationReports.ts OUT IN1 [IN2 ...]');
  process.exit(2);
}

const ids = new Map<string, string>();
const idOf = (file: string, name: string) => {
  const key = `${file}\u0000${name}`;
  let id = ids.get(key);
  if (id === undefined) ids.set(key, (id = String(ids.size)));
  return id;
};

let merged: Report | undefined;
for (const path of inputs) {
  const r = JSON.parse(readFileSync(path, 'utf8')) as Report;
  merged ??= { ...r, files: {}, testFiles: {} };
  const renumber = new Map<string, string>();
  for (const [file, tf] of Object.entries(r.testFiles ?? {})) {
    const tests = tf.tests.map((t) => {
      const id = idOf(file, t.name);
      renumber.set(t.id, id);
      return { ...t, id };
    });
    const known = merged.testFiles![file];
    const byId = new Map((known?.tests ?? []).map((t) => [t.id, t]));
    for (const t of tests) byId.set(t.id, t);
    merged.testFiles![file] = { ...tf, tests: [...byId.values()] };
  }
  const map = (list: string[] | undefined) => list?.map((id) => renumber.get(id) ?? id);
  for (const [file, f] of Object.entries(r.files)) {
    if (file in merged.files) throw new Error(`${file} is in two shards`);
    merged.files[file] = { ...f, mutants: f.mutants.map((m) => ({ ...m, coveredBy: map(m.coveredBy), killedBy: map(m.killedBy) })) };
  }
}
// The report names the machine's checkout; a committed baseline must not (it is read relative to the project).
delete merged!['projectRoot'];
writeFileSync(out, JSON.stringify(merged));
console.log(`${out}: ${Object.keys(merged!.files).length} files, ${ids.size} tests, from ${inputs.length} reports`);
