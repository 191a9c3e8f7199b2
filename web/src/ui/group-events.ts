import { msg, str } from '@lit/localize';
import type { GroupEventView } from '../api/protocol.ts';

/** A group role as the group info names it. */
function groupRoleName(role: string | undefined): string {
  switch (role) {
    case 'owner':
      return msg('Gruppenleitung', { id: 'info.owner' });
    case 'moderator':
      return msg('Moderation', { id: 'info.moderator' });
    case 'reader':
      return msg('Nur lesen', { id: 'info.reader' });
    case 'manager':
      return msg('Verwaltung (Schulverwaltung)', { id: 'info.manager' });
    default:
      return msg('Mitglied', { id: 'event.member' });
  }
}

/** What a policy change changed, in words. */
function policyText(e: GroupEventView): string {
  const parts: string[] = [];
  if (e.retentionDays !== undefined)
    parts.push(e.retentionDays === 1 ? msg('Nachrichten werden nach einem Tag gelöscht', { id: 'event.retention-one' }) : msg(str`Nachrichten werden nach ${e.retentionDays} Tagen gelöscht`, { id: 'event.retention' }));
  if (e.whoMayPost === 'moderators') parts.push(msg('nur noch Gruppenleitung und Moderation schreiben', { id: 'event.post-moderators' }));
  if (e.whoMayPost === 'members') parts.push(msg('alle Mitglieder schreiben', { id: 'event.post-members' }));
  if (e.readReceipts === true) parts.push(msg('Lesebestätigungen an', { id: 'event.receipts-on' }));
  if (e.readReceipts === false) parts.push(msg('Lesebestätigungen aus', { id: 'event.receipts-off' }));
  return parts.join(', ');
}

/** The line the chat shows for a change of the group ("Frau Schmidt hat Lukas hinzugefügt"). */
export function groupEventText(e: GroupEventView): string {
  const by = e.by;
  const target = e.target ?? '';
  switch (e.type) {
    case 'created':
      return e.byMe ? msg(str`Du hast die Gruppe „${e.name}“ erstellt`, { id: 'event.created-me' }) : msg(str`${by} hat die Gruppe „${e.name}“ erstellt`, { id: 'event.created' });
    case 'renamed':
      return e.byMe ? msg(str`Du hast die Gruppe in „${e.name}“ umbenannt`, { id: 'event.renamed-me' }) : msg(str`${by} hat die Gruppe in „${e.name}“ umbenannt`, { id: 'event.renamed' });
    case 'added':
      if (e.targetMe) return msg(str`${by} hat dich hinzugefügt`, { id: 'event.added-you' });
      return e.byMe ? msg(str`Du hast ${target} hinzugefügt`, { id: 'event.added-me' }) : msg(str`${by} hat ${target} hinzugefügt`, { id: 'event.added' });
    case 'removed':
      if (e.targetMe) return msg(str`${by} hat dich entfernt`, { id: 'event.removed-you' });
      return e.byMe ? msg(str`Du hast ${target} entfernt`, { id: 'event.removed-me' }) : msg(str`${by} hat ${target} entfernt`, { id: 'event.removed' });
    case 'left':
      return e.byMe ? msg('Du hast die Gruppe verlassen', { id: 'event.left-me' }) : msg(str`${by} hat die Gruppe verlassen`, { id: 'event.left' });
    case 'role':
      return msg(str`${by}: ${target} ist jetzt ${groupRoleName(e.role)}`, { id: 'event.role' });
    case 'policy':
      return msg(str`${by} hat die Regeln geändert: ${policyText(e)}`, { id: 'event.policy' });
    case 'device-added':
      return e.targetMe ? msg('Ein weiteres Gerät von dir ist jetzt in dieser Gruppe', { id: 'event.device-added-me' }) : msg(str`${target} hat ein weiteres Gerät in dieser Gruppe`, { id: 'event.device-added' });
    case 'device-removed':
      return e.targetMe ? msg('Ein Gerät von dir wurde aus dieser Gruppe entfernt', { id: 'event.device-removed-me' }) : msg(str`Ein Gerät von ${target} wurde aus dieser Gruppe entfernt`, { id: 'event.device-removed' });
  }
}
