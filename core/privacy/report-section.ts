/**
 * The report's Privacy section: the review's findings in plain words and its membership attacks, as one
 * HTML section for renderReport's `sections` (the report itself knows nothing of privacy).
 */
import { escapeHtml, section } from '../util/html.ts';
import type { PrivacyReview } from './review.ts';

export function privacyReportSection(review: PrivacyReview): string {
  const rows = review.attacks
    .map(
      (a) =>
        `<tr><td>${escapeHtml(a.name)}</td><td>${escapeHtml(a.needs)}</td><td>${a.auc.toFixed(3)} [${a.aucLow.toFixed(3)}, ${a.aucHigh.toFixed(3)}]</td><td>${(100 * a.tprAtLowFpr).toFixed(1)}% at ${(100 * a.fpr).toFixed(1)}%</td><td>${a.members}</td></tr>`,
    )
    .join('');
  const table = rows
    ? `<table><thead><tr><th>membership attack</th><th>needs</th><th>ROC AUC [95% interval]</th><th>members found at a false-positive rate of</th><th>series a side</th></tr></thead><tbody>${rows}</tbody></table>`
    : '';
  return section(
    'Privacy',
    `<ul>${review.statements.map((s) => `<li>${escapeHtml(s)}</li>`).join('')}</ul>${table}` +
      '<p class="note">Copies: synthetic series within 0.001 of a real one (Euclidean distance over every value, each column scaled by its training range). Attacks score training series (members) and unseen holdout series: nearest generated series (GAN-Leaks, Chen et al. 2020), share of generated series within the median nearest distance (Monte-Carlo, Hilprecht et al. 2019), the trained critic\'s score (LOGAN, Hayes et al. 2019). AUC 0.5 is guessing.</p>',
  );
}
