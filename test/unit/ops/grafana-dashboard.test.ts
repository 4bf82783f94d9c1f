/**
 * docs/grafana/pinbase-dashboard.json queries only metrics the code exports,
 * with labels they have: every `pinbase_*` name in a panel's PromQL is a
 * metric of the worker's or the router's registry (a histogram's _bucket,
 * _sum and _count included), and every label it groups by or matches on is
 * one of that metric's labels (or one Prometheus adds when it scrapes).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Registry } from 'prom-client';
import { RouterMetrics } from '../../../router/router-metrics.js';
import { WorkerMetrics } from '../../../services/worker/worker-metrics.js';
import { ObjectCache } from '../../../services/partition/object-cache.js';

interface Panel {
  title: string;
  type: string;
  targets?: { expr: string; datasource?: { uid?: string } }[];
}

const dashboard = JSON.parse(readFileSync(new URL('../../../docs/grafana/pinbase-dashboard.json', import.meta.url), 'utf8')) as {
  panels: Panel[];
};
const SCRAPE_LABELS = new Set(['instance', 'job']);

interface ExportedMetric {
  name: string;
  type: string;
  labelNames?: string[];
  get(): Promise<{ values: { labels: Record<string, unknown> }[] }>;
}

/** Every series name a registry exposes, with the label names it carries. */
async function seriesOf(registry: Registry): Promise<Map<string, Set<string>>> {
  const series = new Map<string, Set<string>>();
  for (const metric of registry.getMetricsAsArray() as unknown as ExportedMetric[]) {
    const { name, type } = metric;
    const declared = metric.labelNames ?? [];
    const seen = (await metric.get()).values.flatMap((value) => Object.keys(value.labels));
    const labels = new Set([...declared, ...seen]);
    // A custom metric with no samples yet declares no labels: the router's latency histogram has `worker`.
    if (name === 'pinbase_router_upstream_response_seconds') labels.add('worker');
    const names = type === 'histogram' ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : type === 'summary' ? [name, `${name}_sum`, `${name}_count`] : [name];
    for (const n of names) series.set(n, new Set([...labels, ...(n.endsWith('_bucket') ? ['le'] : []), ...(type === 'summary' && n === name ? ['quantile'] : [])]));
  }
  return series;
}

/** The label names an expression groups by (`by (...)`) or matches on (`{label=...}`) for `metric`. */
function labelsUsed(expr: string): string[] {
  const used: string[] = [];
  for (const match of expr.matchAll(/\bby\s*\(([^)]*)\)/g)) used.push(...match[1]!.split(',').map((label) => label.trim()).filter(Boolean));
  for (const match of expr.matchAll(/\{([^}]*)\}/g)) used.push(...[...match[1]!.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)].map((m) => m[1]!));
  return used;
}

describe('the Grafana dashboard', () => {
  it('queries only metrics the worker and the router export, by labels they have', async () => {
    const exported = new Map([
      ...(await seriesOf(new WorkerMetrics({ openPartitions: () => 0, liveStreams: () => 0, objectCache: () => new ObjectCache(0), turnWaits: () => 0 }).registry)),
      ...(await seriesOf(new RouterMetrics().registry)),
    ]);
    const queries = dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => ({ panel: panel.title, expr: target.expr })));
    expect(queries.length).toBeGreaterThan(15);
    const problems: string[] = [];
    for (const { panel, expr } of queries) {
      const metrics = [...expr.matchAll(/\b(pinbase_[a-z0-9_]+)\b/g)].map((m) => m[1]!);
      if (metrics.length === 0) problems.push(`${panel}: no pinbase metric in ${expr}`);
      const labels = new Set<string>(SCRAPE_LABELS);
      for (const metric of metrics) {
        const known = exported.get(metric);
        if (known === undefined) problems.push(`${panel}: ${metric} is not exported`);
        else for (const label of known) labels.add(label);
      }
      for (const label of labelsUsed(expr)) if (!labels.has(label)) problems.push(`${panel}: label ${label} is on none of ${metrics.join(', ')}`);
    }
    expect(problems).toEqual([]);
  });

  it('is a Grafana dashboard whose every query uses the dashboard\'s Prometheus data source variable', () => {
    const targets = dashboard.panels.flatMap((panel) => panel.targets ?? []);
    expect(targets.every((target) => target.datasource?.uid === '${datasource}')).toBe(true);
    expect(new Set(dashboard.panels.map((panel) => panel.type))).toEqual(new Set(['row', 'stat', 'timeseries']));
  });
});
