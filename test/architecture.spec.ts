import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';

/**
 * Folders that depend one way (docs/architecture.md): no two top-level folders of src/ import each other, directly or
 * through a circle, and the low folders every feature may use import no feature.
 *
 * Every relative import of every .ts file under src/ counts, specs included, and so do type-only ones (`import type`,
 * `import('…').T`): a type is a dependency too (changing it breaks the importer), and a folder that needs another's
 * types to compile cannot be read, tested or moved without it. There is no list of exceptions. Files directly in src/
 * (main.ts, app.module.ts, bootstrap.ts, cli.ts) are the composition root: they import every folder, so a folder that
 * imported one of them would close a circle and fail here like any other.
 */
const SRC = resolve(import.meta.dirname, '../src');
const ROOT = '(src/ root files)';

/** What every feature may use; none of these imports a folder outside this list. Any other folder is a feature. */
const LOW = ['common', 'config', 'database', 'http', 'logging', 'metrics', 'redis', 'rate-limit'];

interface Import {
  from: string;
  to: string;
}

/** The module specifiers a file imports: declarations, re-exports, `import(…)` calls and `import('…')` types. */
function specifiers(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      found.push(node.moduleSpecifier.text);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      const e = node.moduleReference.expression;
      if (ts.isStringLiteral(e)) found.push(e.text);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [arg] = node.arguments;
      if (arg && ts.isStringLiteralLike(arg)) found.push(arg.text);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      found.push(node.argument.literal.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** Every relative import under src/, as paths relative to src/ (`auth/sign-in.service.ts`). */
function relativeImports(): { imports: Import[]; unresolved: string[] } {
  const files = readdirSync(SRC, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
  const imports: Import[] = [];
  const unresolved: string[] = [];
  for (const file of files) {
    for (const spec of specifiers(join(SRC, file))) {
      if (!spec.startsWith('.')) continue;
      const target = resolve(dirname(join(SRC, file)), spec.replace(/\.js$/, '.ts'));
      if (!existsSync(target)) unresolved.push(`${file} -> ${spec}`);
      imports.push({ from: file, to: relative(SRC, target) });
    }
  }
  return { imports, unresolved };
}

const folderOf = (path: string): string => (path.includes(sep) ? path.split(sep)[0] : ROOT);

/** Folder → folder → the file imports that make that edge. */
function folderGraph(imports: Import[]): Map<string, Map<string, string[]>> {
  const graph = new Map<string, Map<string, string[]>>();
  for (const { from, to } of imports) {
    const a = folderOf(from);
    const b = folderOf(to);
    if (a === b) continue;
    if (!graph.has(a)) graph.set(a, new Map());
    const edges = graph.get(a)!;
    if (!edges.has(b)) edges.set(b, []);
    edges.get(b)!.push(`${from} -> ${to}`);
  }
  return graph;
}

/** Tarjan's strongly connected components with more than one folder: each is a circle of imports. */
function circles(graph: Map<string, Map<string, string[]>>): string[][] {
  const nodes = new Set([...graph.keys(), ...[...graph.values()].flatMap((e) => [...e.keys()])]);
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const result: string[][] = [];
  let next = 0;
  const connect = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    for (const w of graph.get(v)?.keys() ?? []) {
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (stack.includes(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      component.push(w);
    } while (w !== v);
    if (component.length > 1) result.push(component.sort());
  };
  for (const v of [...nodes].sort()) if (!index.has(v)) connect(v);
  return result;
}

describe('src/ folders depend one way', () => {
  const { imports, unresolved } = relativeImports();
  const graph = folderGraph(imports);

  it('reads the imports it judges (every relative import resolves to a file)', () => {
    expect(unresolved).toEqual([]);
    // The reader must see what it judges: the root imports features, features import the low folders.
    expect(graph.get(ROOT)?.has('auth')).toBe(true);
    expect(graph.get('auth')?.has('http')).toBe(true);
  });

  it('has no two folders that import each other, directly or through a circle', () => {
    const found = circles(graph).map((members) => ({
      circle: members,
      imports: members.flatMap((a) => members.flatMap((b) => graph.get(a)?.get(b) ?? [])),
    }));
    expect(found).toEqual([]);
  });

  it('keeps the low folders free of features: they import only one another', () => {
    const upward = LOW.flatMap((a) =>
      [...(graph.get(a) ?? new Map<string, string[]>())].filter(([b]) => !LOW.includes(b)).flatMap(([, files]) => files),
    );
    expect(upward).toEqual([]);
  });

  it('finds a circle when there is one (the check itself)', () => {
    // Two imports this layout once had (issue 16): database/ listing an entity, metrics/ taking @Public() from auth/.
    const plant = (from: string, to: string) => circles(folderGraph([...imports, { from, to }]));
    expect(plant(join('database', 'data-source.ts'), join('accounts', 'user.entity.ts'))).toEqual([
      expect.arrayContaining(['accounts', 'database']),
    ]);
    expect(plant(join('metrics', 'metrics.module.ts'), join('auth', 'guards', 'jwt-auth.guard.ts'))).toEqual([
      expect.arrayContaining(['auth', 'metrics']),
    ]);
  });
});

/**
 * Express's own response methods, which Fastify's reply does not have (or has with other arguments: `redirect`).
 * Node's (`setHeader`, `end`, `statusCode`) are not listed: they are on every response below the adapters.
 */
const EXPRESS_ONLY = new Set([
  'redirect',
  'json',
  'send',
  'status',
  'type',
  'cookie',
  'clearCookie',
  'set',
  'vary',
  'append',
  'location',
  'sendFile',
  'render',
  'sendStatus',
]);

/** `res.<method>(…)` calls (what our code names a response) of an Express-only method in one source text. */
function expressResponseCalls(file: string, text: string): string[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression)) {
      const { expression: target, name } = node.expression;
      // `res.status(…).json(…)`: the chain's root is what counts.
      let root: ts.Expression = target;
      while (ts.isCallExpression(root) && ts.isPropertyAccessExpression(root.expression)) root = root.expression.expression;
      // Counted once, at the chain's outer call.
      const inner = ts.isPropertyAccessExpression(node.parent) && ts.isCallExpression(node.parent.parent);
      if (!inner && ts.isIdentifier(root) && /^(res|outgoing)$/.test(root.text) && EXPRESS_ONLY.has(name.text)) {
        found.push(`${file}:${source.getLineAndCharacterOfPosition(node.getStart()).line + 1} ${node.getText().slice(0, 80)}`);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

describe('answers go through Nest’s adapter, so both adapters run the same code (docs/fastify-trial.md)', () => {
  it('calls no Express-only response method', () => {
    const files = readdirSync(SRC, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts') && !f.endsWith('.spec.ts'));
    const calls = files.flatMap((f) => expressResponseCalls(f, readFileSync(join(SRC, f), 'utf8')));
    expect(calls).toEqual([]);
  });

  it('finds such a call when there is one (the check itself)', () => {
    expect(expressResponseCalls('a.ts', "res.status(400).json({ error: 'x' }); res.redirect(303, '/');")).toHaveLength(2);
    expect(expressResponseCalls('a.ts', "http.redirect(res, 303, '/'); res.setHeader('A', 'b'); fetched.json();")).toEqual([]);
  });
});
