/** The demo's terminal lines (src/cli/demo-view.ts): what a record, the footer and a warning look like, at any width. */
import { describe, expect, it } from 'vitest';
import { colorWanted, footerLine, logLine, recordLine, visibleLength } from '../../src/cli/demo-view.js';

const created = {
  resource: 'alerts_v2',
  provider: 'microsoftDefenderForEndpoint',
  severity: 'high',
  title: "'Mimikatz' credential theft tool",
  via: 'streaming',
  ingested_at: '2026-12-03T04:43:56.112Z',
};
const updated = {
  ...created,
  severity: 'medium',
  via: 'poll',
  changes: [
    { field: 'status', from: 'new', to: 'inProgress' },
    { field: 'assignedTo', from: null, to: 'secops-alexb@contoso.com' },
  ],
};
const stats = {
  ingested: 122,
  byPath: { poll: 70, streaming: 52 },
  duplicates: 32,
  delivered: 90,
  graphRequests: 57,
  budget: { used: 12, limit: 150 },
};
const ESC = '\x1b';

describe('demo view lines', () => {
  it('shows a new record with its severity, product, path and title, in colour', () => {
    const line = recordLine(created, { columns: 120, color: true });
    expect(line).toContain(`${ESC}[1;31mhigh`);
    const plain = recordLine(created, { columns: 120, color: false });
    expect(plain).not.toContain(ESC);
    expect(plain).toMatch(/^\d\d:\d\d:\d\d high +new +streaming +Defender Endpoint +'Mimikatz' credential theft tool$/);
  });

  it('shows what an update changed', () => {
    const plain = recordLine(updated, { columns: 200, color: false });
    expect(plain).toMatch(/medium +updated +poll/);
    expect(plain).toContain('status new→inProgress, assignedTo –→secops-alexb@contoso.com');
  });

  it('never takes a whole row, at any width, with or without colour, nor with control characters in a title', () => {
    const hostile = { ...updated, title: `bad${ESC}[2J${ESC}]0;owned\x07title\r\nnext` };
    for (const columns of [20, 45, 60, 89, 90, 120]) {
      for (const color of [true, false]) {
        for (const line of [
          recordLine(created, { columns, color }),
          recordLine(hostile, { columns, color }),
          footerLine(stats, { columns, color }),
        ]) {
          expect(visibleLength(line)).toBeLessThanOrEqual(columns - 1);
          // Only the view's own SGR sequences reach the terminal.
          // eslint-disable-next-line no-control-regex
          expect(line.replace(/\x1b\[[0-9;]*m/g, '')).not.toMatch(/[\x00-\x1f\x7f-\x9f]/);
        }
      }
    }
    expect(recordLine(hostile, { columns: 200, color: false })).toContain('bad [2J ]0;owned title  next');
    // Wide characters (CJK, emoji) take two columns each; combining marks none.
    const wide = { ...created, title: '不審なサインイン 🚨 activité suspecte (e\u0301)' };
    for (const columns of [40, 60, 61, 62, 80]) {
      const line = recordLine(wide, { columns, color: false });
      expect(visibleLength(line)).toBeLessThanOrEqual(columns - 1);
      // Cut (a wide character that would straddle the edge is left out): the room used up to one column.
      if (line.endsWith('…')) expect(visibleLength(line)).toBeGreaterThanOrEqual(columns - 2);
    }
    expect(recordLine(wide, { columns: 61, color: false })).toMatch(/…$/);
    expect(visibleLength('不審 🚨 e\u0301')).toBe(9);
    // Narrow: the product column goes first, the title stays.
    expect(recordLine(created, { columns: 60, color: false })).toContain("'Mimikatz'");
    expect(recordLine(created, { columns: 60, color: false })).not.toContain('Defender');
  });

  it('footer: the counts, the paths and the budget', () => {
    expect(footerLine(stats, { columns: 200, color: false })).toBe(
      '▌ ingested 122 (poll 70, streaming 52) · duplicates 32 · delivered 90 · Graph requests 57 · budget 12/150 per min ',
    );
    // Room for the `^C` a terminal echoes after it.
    expect(footerLine(stats, { columns: 40, color: false })).toBe('▌ ingested 122 (poll 70, streaming 5…');
  });

  it('a warning or error log entry is one line with its error message', () => {
    const line = logLine(
      {
        level: 50,
        time: Date.parse('2026-12-03T04:43:56Z'),
        component: 'poller',
        source: 'demo-graph',
        msg: 'poll failed',
        err: { message: 'connect ECONNREFUSED\n    at stack' },
      },
      { columns: 120, color: false },
    );
    expect(line).toMatch(/^\d\d:\d\d:\d\d ERROR \[poller\/demo-graph\] poll failed: connect ECONNREFUSED$/);
  });

  it('NO_COLOR (any non-empty value) and TERM=dumb turn colour off', () => {
    expect(colorWanted({})).toBe(true);
    expect(colorWanted({ NO_COLOR: '1' })).toBe(false);
    expect(colorWanted({ NO_COLOR: '' })).toBe(true);
    expect(colorWanted({ TERM: 'dumb' })).toBe(false);
  });
});
