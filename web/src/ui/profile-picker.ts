import { msg, str, updateWhenLocaleChanges } from '@lit/localize';
import { LitElement, css, html } from 'lit';
import type { ProfileSummary } from '../api/protocol.ts';
import { currentLocale, switchLocale } from '../i18n/locale.ts';
import { avatarColour, initials, roleLabel } from './format.ts';
import { globeIcon, logo, plusIcon } from './icons.ts';
import { base } from './styles.ts';

/** Several people on one browser (siblings): each has a profile of their own; this picks one. */
export class ProfilePicker extends LitElement {
  static override properties = { profiles: { attribute: false } };
  declare profiles: ProfileSummary[];

  constructor() {
    super();
    updateWhenLocaleChanges(this);
    this.profiles = [];
  }

  private pick(profile: ProfileSummary): void {
    this.dispatchEvent(new CustomEvent<ProfileSummary>('pick', { detail: profile, bubbles: true, composed: true }));
  }

  override render() {
    const other = currentLocale() === 'de' ? 'en' : 'de';
    return html`
      <main class="page">
        <div class="top">
          <button class="lang" lang=${other} @click=${() => switchLocale(other)}>${globeIcon}<span>${other === 'en' ? 'English' : 'Deutsch'}</span></button>
        </div>
        ${logo}
        <h1>${msg('Wer benutzt Schoolmesh?', { id: 'profiles.title' })}</h1>
        <p class="lead">${msg('Jedes Profil hat eigene Chats. Niemand sieht die Chats der anderen Profile.', { id: 'profiles.lead' })}</p>
        <ul class="grid" aria-label=${msg('Profile auf diesem Gerät', { id: 'profiles.list' })}>
          ${this.profiles.map(
            (p) => html`<li>
              <button class="profile" @click=${() => this.pick(p)}>
                <span class="avatar" style="background:${avatarColour(p.account)}" aria-hidden="true">${initials(p.displayName)}</span>
                <span class="name">${p.displayName}</span>
                <span class="meta">${roleLabel(p.role)} · ${p.schoolName}</span>
              </button>
              <button
                class="remove"
                aria-label=${msg(str`Profil ${p.displayName} entfernen`, { id: 'remove.title' })}
                @click=${() => this.dispatchEvent(new CustomEvent<ProfileSummary>('remove', { detail: p, bubbles: true, composed: true }))}
              >
                ${msg('Entfernen', { id: 'profiles.remove' })}
              </button>
            </li>`,
          )}
          <li>
            <button class="profile add" @click=${() => this.dispatchEvent(new CustomEvent('add', { bubbles: true, composed: true }))}>
              <span class="avatar" aria-hidden="true">${plusIcon}</span>
              <span class="name">${msg('Profil hinzufügen', { id: 'profiles.add' })}</span>
              <span class="meta">${msg('mit einem Anmeldecode', { id: 'profiles.add-meta' })}</span>
            </button>
          </li>
        </ul>
      </main>
    `;
  }

  static override styles = [
    base,
    css`
      :host {
        display: block;
        min-height: 100%;
        background: var(--panel-alt);
      }
      .page {
        max-width: 720px;
        margin: 0 auto;
        padding: 16px 16px 40px;
        text-align: center;
      }
      .top {
        display: flex;
        justify-content: flex-end;
      }
      .lang {
        display: inline-flex;
        align-items: center;
        gap: 6px;
        border: 1px solid var(--line);
        background: var(--panel);
        border-radius: 20px;
        padding: 6px 14px 6px 10px;
        cursor: pointer;
      }
      .lang .icon {
        width: 20px;
        height: 20px;
      }
      h1 {
        margin: 16px 0 8px;
        font-size: 1.6rem;
      }
      .lead {
        color: var(--ink-soft);
        margin: 0 0 28px;
      }
      .grid {
        list-style: none;
        padding: 0;
        margin: 0;
        display: grid;
        grid-template-columns: repeat(auto-fill, minmax(150px, 1fr));
        gap: 16px;
      }
      .profile {
        width: 100%;
        display: grid;
        justify-items: center;
        gap: 6px;
        padding: 20px 10px;
        border: 1px solid var(--line);
        border-radius: 16px;
        background: var(--panel);
        cursor: pointer;
      }
      .profile:hover {
        border-color: var(--brand);
        box-shadow: 0 4px 14px rgba(0, 40, 30, 0.08);
      }
      .profile .avatar {
        width: 64px;
        height: 64px;
        font-size: 1.35rem;
      }
      .remove {
        margin-top: 6px;
        border: none;
        background: none;
        color: var(--ink-soft);
        font-size: 0.88rem;
        text-decoration: underline;
        text-underline-offset: 3px;
        cursor: pointer;
        padding: 6px;
      }
      .add .avatar {
        background: var(--brand-soft);
        color: var(--brand);
      }
      .name {
        font-weight: 600;
        font-size: 1.05rem;
      }
      .meta {
        color: var(--ink-soft);
        font-size: 0.88rem;
      }
    `,
  ];
}

customElements.define('sm-profiles', ProfilePicker);
