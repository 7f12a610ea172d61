import type { FunctionComponent } from 'preact';
import type { Session } from '../session.js';

export interface PageProps {
  session: Session;
  /** The `:name` parts of the page's path. */
  params: Record<string, string>;
}

/**
 * One page of the console. A feature adds a page by exporting one of these from its module in
 * `pages/` and listing it in `PAGES` (pages/index.ts); `nav` puts it in the navigation.
 */
export interface ConsolePage {
  /** `/agents`, or with parameters: `/channels/:channelId`. */
  path: string;
  title: string;
  /** Shown in the navigation with this label; pages without it are reached by links. */
  nav?: string;
  /** Only for workspace admins: hidden from the navigation of everyone else. */
  adminOnly?: boolean;
  /** Rendered beside the page's navigation link for as long as the console is open (e.g. a pending count). */
  badge?: FunctionComponent<{ session: Session }>;
  component: FunctionComponent<PageProps>;
}
