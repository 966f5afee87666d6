import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

/**
 * Repositories own the SQL, services own the rules (house style, habit 8): outside database/, only a repository
 * (`*.repository.ts`) runs statements, and only entities and repositories import TypeORM. Services open transactions
 * (`Database.transaction`) and nothing else of Database, so no service takes or holds an EntityManager.
 */
const SRC = join(import.meta.dirname, '..');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.spec.ts') ? [join(dir, e.name)] : [],
  );
}

const files = sources(SRC)
  .map((path) => ({ path: relative(SRC, path), text: readFileSync(path, 'utf8') }))
  .filter((f) => !f.path.startsWith('database/'));
const repository = (f: { path: string }) => f.path.endsWith('.repository.ts');

describe('data access', () => {
  it('is read from the source tree', () => {
    expect(files.filter(repository).length).toBeGreaterThanOrEqual(8);
  });

  it('only entities and repositories import TypeORM', () => {
    const importers = files.filter((f) => /from 'typeorm(\/[^']*)?'/.test(f.text)).map((f) => f.path);
    expect(importers.filter((p) => !p.endsWith('.entity.ts') && !p.endsWith('.repository.ts'))).toEqual([]);
  });

  it('only repositories run statements; everything else only opens transactions and registers after-commit work', () => {
    const statement = /\.(run|sql|insertRow|findRow|updateRows)(<[^>]*>)?\(|\bdataSource\b|EntityManager/;
    const using = files.filter((f) => !repository(f) && /\bDatabase\b/.test(f.text) && statement.test(f.text.replace(/\.run\(\)/g, '')));
    expect(using.map((f) => f.path)).toEqual([]);
  });
});
