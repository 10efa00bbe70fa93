// Prints the mutation score of one or more Stryker JSON reports (reports/mutation/mutation.json by
// default), per file and in total, and with --survivors every mutant no test killed.
// Score = (killed + timed out) / (all − compile errors − ignored), as Stryker counts it.
//
//   node --import tsx scripts/mutationScore.ts [--survivors] [report.json ...]
import { readFileSync } from 'node:fs';

interface Mutant {
  mutatorName: string;
  replacement?: string;
  status: string;
  location: { start: { line: number; column: number } };
}
interface Report {
  files: Record<string, { mutants: Mutant[] }>;
}

const args = process.argv.slice(2);
const survivors = args.includes('--survivors');
const reports = args.filter((a) => a !== '--survivors');
if (reports.length === 0) reports.push('reports/mutation/mutation.json');

const files = new Map<string, Mutant[]>();
for (const path of reports) {
  const report = JSON.parse(readFileSync(path, 'utf8')) as Report;
  for (const [file, { mutants }] of Object.entries(report.files)) files.set(file, mutants);
}

const count = (mutants: Mutant[]) => {
  const by = (s: string) => mutants.filter((m) => m.status === s).length;
  const detected = by('Killed') + by('Timeout');
  const valid = mutants.length - by('CompileError') - by('Ignored') - by('RuntimeError');
  return { detected, valid, survived: by('Survived'), noCoverage: by('NoCoverage'), timeout: by('Timeout') };
};
const pct = (d: number, v: number) => (v === 0 ? 'n/a' : `${((100 * d) / v).toFixed(2)} %`);

let detected = 0;
let valid = 0;
for (const [file, mutants] of [...files].sort(([a], [b]) => (a < b ? -1 : 1))) {
  const c = count(mutants);
  detected += c.detected;
  valid += c.valid;
  console.log(`${pct(c.detected, c.valid).padStart(9)}  ${file}  (${c.detected}/${c.valid}; ${c.survived} survived, ${c.noCoverage} no coverage)`);
  if (survivors) {
    for (const m of mutants) {
      if (m.status !== 'Survived' && m.status !== 'NoCoverage') continue;
      const { line, column } = m.location.start;
      console.log(`      ${m.status} ${line}:${column} ${m.mutatorName}: ${(m.replacement ?? '').replace(/\s+/g, ' ').slice(0, 100)}`);
    }
  }
}
console.log(`${pct(detected, valid).padStart(9)}  total (${detected} of ${valid} valid mutants killed or timed out)`);
