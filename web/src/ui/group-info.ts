import { msg, str, updateWhenLocaleChanges } from '@lit/localize';
import { LitElement, css, html, nothing } from 'lit';
import type { GroupInfo, MemberView } from '../api/protocol.ts';
import { dialogStyles } from './dialog-styles.ts';
import { avatarColour, initials, kindLabel, membersLabel, roleLabel } from './format.ts';
import { closeIcon } from './icons.ts';
import { base } from './styles.ts';

/** Group info, opened from the chat header: what the group is, its rules, and who is in it. Loaded when first opened. */
export class GroupInfoDialog extends LitElement {
  static override properties = { info: { attribute: false } };
  declare info: GroupInfo | undefined;

  constructor() {
    super();
    updateWhenLocaleChanges(this);
    this.info = undefined;
  }

  override firstUpdated(): void {
    this.renderRoot.querySelector('dialog')?.showModal();
  }

  private close(): void {
    this.renderRoot.querySelector('dialog')?.close();
  }

  private groupRole(m: MemberView) {
    if (m.groupRole === 'manager') return html`<span class="tag">${msg('Verwaltung (Schulverwaltung)', { id: 'info.manager' })}</span>`;
    if (m.groupRole === 'owner') return html`<span class="tag mod">${msg('Gruppenleitung', { id: 'info.owner' })}</span>`;
    if (m.groupRole === 'moderator') return html`<span class="tag mod">${msg('Moderation', { id: 'info.moderator' })}</span>`;
    if (m.groupRole === 'reader') return html`<span class="tag">${msg('Nur lesen', { id: 'info.reader' })}</span>`;
    return nothing;
  }

  override render() {
    const info = this.info;
    if (!info) return nothing;
    return html`<dialog aria-labelledby="info-title" @close=${() => this.dispatchEvent(new CustomEvent('close', { bubbles: true, composed: true }))}>
      <div class="head">
        <span class="avatar small" style="background:${avatarColour(info.id)}" aria-hidden="true">${initials(info.name)}</span>
        <h2 id="info-title">${info.name}</h2>
        <button class="icon-button" aria-label=${msg('Schließen', { id: 'dialog.close' })} @click=${this.close}>${closeIcon}</button>
      </div>
      <div class="body">
        <dl>
          <div><dt>${msg('Art', { id: 'info.kind' })}</dt><dd>${kindLabel(info.kind)}</dd></div>
          <div>
            <dt>${msg('Aufbewahrung', { id: 'info.retention' })}</dt>
            <dd>${msg(str`${info.retentionDays} Tage, dann werden Nachrichten gelöscht`, { id: 'info.retention-days' })}</dd>
          </div>
          <div>
            <dt>${msg('Schreiben dürfen', { id: 'info.who-may-post' })}</dt>
            <dd>
              ${info.whoMayPost === 'members'
                ? msg('alle Mitglieder', { id: 'info.post-members' })
                : msg('nur Lehrkräfte und Moderation', { id: 'info.post-moderators' })}
            </dd>
          </div>
          <div>
            <dt>${msg('Lesebestätigungen', { id: 'info.receipts' })}</dt>
            <dd>${info.readReceipts ? msg('an', { id: 'info.on' }) : msg('aus', { id: 'info.off' })}</dd>
          </div>
          <div>
            <dt>${msg('Deine Geräte in dieser Gruppe', { id: 'info.my-devices' })}</dt>
            <dd>${info.myDevices}</dd>
          </div>
        </dl>
        <h3 id="members-title">${membersLabel(info.members.length)}</h3>
        <ul class="people" aria-labelledby="members-title">
          ${info.members.map(
            (m) => html`<li>
              <span class="avatar small" style="background:${avatarColour(m.account)}" aria-hidden="true">${initials(m.name)}</span>
              <span class="who">
                <span class="name">${m.name}${m.me ? html` <span class="muted">(${msg('Du', { id: 'list.you' })})</span>` : nothing}</span>
                <span class="tags">
                  ${m.role ? html`<span class=${m.role === 'teacher' ? 'tag teacher' : 'tag'}>${roleLabel(m.role)}</span>` : nothing}${this.groupRole(m)}${m.partnerSchool
                    ? html`<span class="tag school">${msg(str`Schule: ${m.partnerSchool}`, { id: 'info.partner-school' })}</span>`
                    : nothing}
                </span>
              </span>
            </li>`,
          )}
        </ul>
      </div>
    </dialog>`;
  }

  static override styles = [
    base,
    dialogStyles,
    css`
      dl {
        display: grid;
        grid-template-columns: auto 1fr;
        gap: 8px 16px;
        margin: 12px 0 0;
      }
      dl > div {
        display: contents;
      }
      dt {
        color: var(--ink-soft);
      }
      dd {
        margin: 0;
      }
    `,
  ];
}

customElements.define('sm-group-info', GroupInfoDialog);
