import { adminPage } from './admin.js';
import { agentsPage } from './agents.js';
import { approvalsPage } from './approvals.js';
import { calendarPage } from './calendar.js';
import { channelPage, channelsPage } from './channels.js';
import { claimCodePage, claimPage } from './claim.js';
import type { ConsolePage } from './page.js';
import { taskBoardPage, taskRunPage, tasksPage } from './tasks.js';
import { vaultPage, vaultsPage } from './vault.js';
import { webhookPage, webhooksPage } from './webhooks.js';

/**
 * Every page of the console, in navigation order. To add one (vault, tasks, calendar…): write
 * `pages/<name>.tsx` exporting a `ConsolePage`, and list it here.
 */
export const PAGES: ConsolePage[] = [
  channelsPage, channelPage, agentsPage, approvalsPage, tasksPage, taskBoardPage, taskRunPage, calendarPage, vaultsPage, vaultPage,
  webhooksPage, webhookPage, adminPage, claimCodePage, claimPage,
];
