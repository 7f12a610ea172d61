import type { CalendarOccurrence } from '@sesamespace/sdk';
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { useClientEvent, useLoad } from '../hooks.js';
import type { ConsolePage, PageProps } from './page.js';

type View = 'month' | 'week';
const DAY_NAMES = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];

/** Local midnight of `date`'s day (the viewer's time zone: the browser's). */
function startOfDay(date: Date): Date { return new Date(date.getFullYear(), date.getMonth(), date.getDate()); }
function addDays(date: Date, days: number): Date { return new Date(date.getFullYear(), date.getMonth(), date.getDate() + days); }
/** Monday on or before `date`. */
function startOfWeek(date: Date): Date { return addDays(startOfDay(date), -((date.getDay() + 6) % 7)); }
/** `YYYY-MM-DD` of the local day. */
function dayKey(date: Date): string {
  return `${date.getFullYear()}-${String(date.getMonth() + 1).padStart(2, '0')}-${String(date.getDate()).padStart(2, '0')}`;
}

/** The days shown: whole weeks from Monday, covering the month of `anchor` or its week. */
function visibleDays(view: View, anchor: Date): Date[] {
  if (view === 'week') { const first = startOfWeek(anchor); return Array.from({ length: 7 }, (_, i) => addDays(first, i)); }
  const first = startOfWeek(new Date(anchor.getFullYear(), anchor.getMonth(), 1));
  const last = new Date(anchor.getFullYear(), anchor.getMonth() + 1, 0);
  const days: Date[] = [];
  for (let d = first; d <= last || days.length % 7 !== 0; d = addDays(d, 1)) days.push(d);
  return days;
}

function OccurrenceButton(props: { occurrence: CalendarOccurrence; onOpen: (o: CalendarOccurrence) => void }): JSX.Element {
  const o = props.occurrence;
  const time = new Date(o.scheduledAt).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return (
    <button type="button" class={`occurrence ${o.status}`} title={`${o.title} · ${o.status} · ${o.timezone}`} onClick={() => { props.onOpen(o); }}>
      {time} {o.title}{o.status === 'missed' ? ' (missed)' : ''}
    </button>
  );
}

/** The recorded runs of one schedule event, newest first. */
function History(props: PageProps & { occurrence: CalendarOccurrence; onClose: () => void }): JSX.Element {
  const { client } = props.session;
  const { eventId, title } = props.occurrence;
  const history = useLoad(async () => (await client.getOccurrences(eventId, 50)).occurrences, [client, eventId]);
  return (
    <aside class="card history" aria-label={`History of ${title}`}>
      <div class="card-title"><strong>{title}</strong> <span class="muted small">{props.occurrence.timezone}</span> <button type="button" class="small" onClick={props.onClose}>Close</button></div>
      <p class="small">Selected run: {new Date(props.occurrence.scheduledAt).toLocaleString()} · {props.occurrence.status}</p>
      {history.error ? <p class="error" role="alert">{history.error}</p> : null}
      {history.data?.length === 0 ? <p class="muted">No runs recorded yet.</p> : null}
      <table>
        <thead><tr><th>Scheduled</th><th>Status</th><th>Result</th><th>Duration</th></tr></thead>
        <tbody>
          {history.data?.map((h) => (
            <tr key={h.id} class={h.status === 'missed' ? 'missed' : undefined}>
              <td>{new Date(h.scheduledAt).toLocaleString()}</td><td>{h.status}</td><td>{h.result ?? ''}</td><td>{h.durationMs === null ? '' : `${h.durationMs} ms`}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </aside>
  );
}

/** Every agent's scheduled runs in month and week views, in the viewer's time zone; missed runs stand out. */
function CalendarPage(props: PageProps): JSX.Element {
  const { client } = props.session;
  const [view, setView] = useState<View>('month');
  const [anchor, setAnchor] = useState(() => startOfDay(new Date()));
  const [open, setOpen] = useState<CalendarOccurrence>();
  const days = visibleDays(view, anchor);
  const from = days[0];
  const to = addDays(days[days.length - 1], 1);
  const calendar = useLoad(() => client.getCalendar({ from, to }), [client, from.getTime(), to.getTime()]);
  // Schedules change while the page is open: a sync, a recorded run, a missed one.
  useClientEvent(client, 'schedule.synced', () => { calendar.reload(); });
  useClientEvent(client, 'schedule.updated', () => { calendar.reload(); });
  useClientEvent(client, 'schedule.occurrence', () => { calendar.reload(); });
  useClientEvent(client, 'schedule.missed', () => { calendar.reload(); });

  const byDay = new Map<string, CalendarOccurrence[]>();
  for (const o of calendar.data?.occurrences ?? []) {
    const key = dayKey(new Date(o.scheduledAt));
    byDay.set(key, [...(byDay.get(key) ?? []), o]);
  }
  const move = (step: number) => {
    setAnchor((a) => (view === 'week' ? addDays(a, 7 * step) : new Date(a.getFullYear(), a.getMonth() + step, 1)));
  };
  const heading = view === 'month'
    ? anchor.toLocaleDateString([], { month: 'long', year: 'numeric' })
    : `${from.toLocaleDateString([], { day: 'numeric', month: 'short' })} – ${addDays(to, -1).toLocaleDateString([], { day: 'numeric', month: 'short', year: 'numeric' })}`;
  const timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  return (
    <section class="page wide">
      <h1>Calendar</h1>
      <div class="calendar-bar">
        <div role="group" aria-label="View">
          <button type="button" aria-pressed={view === 'month'} onClick={() => { setView('month'); }}>Month</button>
          <button type="button" aria-pressed={view === 'week'} onClick={() => { setView('week'); }}>Week</button>
        </div>
        <button type="button" aria-label="Previous" onClick={() => { move(-1); }}>‹</button>
        <button type="button" onClick={() => { setAnchor(startOfDay(new Date())); }}>Today</button>
        <button type="button" aria-label="Next" onClick={() => { move(1); }}>›</button>
        <h2 class="calendar-title">{heading}</h2>
        <span class="muted small">Times in {timeZone}</span>
      </div>
      {calendar.error ? <p class="error" role="alert">{calendar.error}</p> : null}
      {calendar.data?.notice ? <p class="notice">{calendar.data.notice}</p> : null}
      <div class={`calendar ${view}`} role="grid" aria-label={heading}>
        {DAY_NAMES.map((d) => <div key={d} class="weekday muted small" role="columnheader">{d}</div>)}
        {days.map((d) => {
          const key = dayKey(d);
          const outside = view === 'month' && d.getMonth() !== anchor.getMonth();
          const today = key === dayKey(new Date());
          return (
            <div key={key} role="gridcell" class={`day${outside ? ' outside' : ''}${today ? ' today' : ''}`} data-date={key} aria-label={d.toDateString()}>
              <span class="date small">{d.getDate()}</span>
              {(byDay.get(key) ?? []).map((o) => <OccurrenceButton key={`${o.eventId}@${o.scheduledAt}`} occurrence={o} onOpen={setOpen} />)}
            </div>
          );
        })}
      </div>
      {open ? <History {...props} occurrence={open} onClose={() => { setOpen(undefined); }} /> : null}
    </section>
  );
}

export const calendarPage: ConsolePage = { path: '/calendar', title: 'Calendar', nav: 'Calendar', component: CalendarPage };
