/**
 * The Dockerfile cannot be built here (no Docker engine), so its stated facts are checked against the repository
 * and the chart: user, paths, port, entrypoint, and what the build context holds.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { ROOT } from '../../scripts/helm-check.js';

const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const dockerfile = read('Dockerfile');
/** Instructions with their continuation lines joined, comments dropped. */
const instructions = dockerfile
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'));
const stages = instructions.reduce<string[][]>((acc, line) => {
  if (/^FROM /i.test(line)) acc.push([]);
  acc.at(-1)?.push(line);
  return acc;
}, []);
const runtime = stages.at(-1)!;
const values = parseYaml(read('helm/alertbridge/values.yaml'));
const deployment = read('helm/alertbridge/templates/deployment.yaml');

describe('Dockerfile', () => {
  it('is multi-stage on node:24-slim (the Node LTS that package.json engines asks for), building with npm ci + npm run build', () => {
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:24-slim$/m);
    expect(JSON.parse(read('package.json')).engines.node).toBe('>=24');
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const stage of stages) expect(stage[0]).toMatch(/^FROM \$\{NODE_IMAGE\}/);
    const build = stages.find((s) => s.some((l) => l.includes('npm run build')))!;
    expect(build.join('\n')).toMatch(/RUN npm ci\b/);
  });

  it('installs production dependencies without running scripts (prepare would run tsc)', () => {
    expect(instructions.join('\n')).toMatch(/npm ci --omit=dev --ignore-scripts/);
  });

  it('runtime stage: dist, bin, config, package.json and production node_modules', () => {
    const copies = runtime.filter((l) => l.startsWith('COPY')).join('\n');
    expect(copies).toMatch(/--from=build \/src\/dist \.\/dist/);
    expect(copies).toMatch(/--from=deps \/app\/node_modules \.\/node_modules/);
    expect(copies).toMatch(/ bin \.\/bin/);
    expect(copies).toMatch(/ config \.\/config/);
    expect(copies).toMatch(/ package\.json \.\//); // "type": "module" for the compiled ESM
    expect(runtime).toContain('WORKDIR /app');
  });

  it('entrypoint and command match the repository and the chart', () => {
    expect(runtime).toContain('ENTRYPOINT ["node", "/app/bin/alertbridge.js"]');
    expect(existsSync(join(ROOT, 'bin/alertbridge.js'))).toBe(true);
    expect(read('bin/alertbridge.js')).toContain('../dist/src/main.js');
    expect(read('tsconfig.build.json')).toMatch(/"include": \["src", "sinks"\]/);
    expect(runtime).toContain('CMD ["run", "--config", "/etc/alertbridge/config.yaml"]');
    expect(deployment).toContain('args: ["run", "--config", "/etc/alertbridge/config.yaml"]');
    expect(deployment).toContain('mountPath: /etc/alertbridge/config.yaml');
    expect(deployment).toContain('mountPath: /etc/alertbridge/secrets');
    expect(runtime.join('\n')).toContain('mkdir -p /etc/alertbridge/secrets');
  });

  it('runs as uid/gid 10001, the chart securityContext', () => {
    expect(runtime).toContain('USER 10001:10001');
    expect(runtime.join('\n')).toMatch(/useradd [^\n]*--uid 10001 --gid 10001/);
    expect(runtime.join('\n')).toMatch(/groupadd [^\n]*--gid 10001/);
    for (const ctx of [values.podSecurityContext, values.securityContext]) {
      expect(ctx).toMatchObject({ runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001 });
    }
    expect(values.securityContext.readOnlyRootFilesystem).toBe(true);
  });

  it('exposes 8080, the chart containerPort, Service port and default listen port', () => {
    expect(runtime).toContain('EXPOSE 8080');
    expect(values.containerPort).toBe(8080);
    expect(values.service.port).toBe(8080);
    expect(values.config.server.listen).toBe('0.0.0.0:8080');
  });

  it('carries OCI labels', () => {
    for (const label of ['title', 'description', 'licenses', 'version', 'revision', 'created']) {
      expect(dockerfile).toContain(`org.opencontainers.image.${label}=`);
    }
  });

  it('.dockerignore keeps what the build copies and drops the rest', () => {
    const ignored = read('.dockerignore').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    const copied = instructions
      .filter((l) => l.startsWith('COPY') && !l.includes('--from='))
      .flatMap((l) => l.replace(/--\S+/g, '').split(/\s+/).slice(1, -1));
    expect(copied.sort()).toEqual(
      ['bin', 'config', 'package-lock.json', 'package-lock.json', 'package.json', 'package.json', 'package.json', 'sinks', 'src', 'tsconfig.build.json', 'tsconfig.json'].sort());
    for (const path of copied) {
      expect(existsSync(join(ROOT, path)), path).toBe(true);
      expect(ignored, `${path} must not be in .dockerignore`).not.toContain(path);
    }
    for (const heavy of ['node_modules', 'dist', '.git', '.cache', 'test']) expect(ignored).toContain(heavy);
  });
});
