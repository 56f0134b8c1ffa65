import { describe, expect, it } from 'vitest';
import { BODY_MAX, isNotifyEvent, notifyContent, shortJson, shorten } from '../src/chat/notify';

describe('isNotifyEvent', () => {
  it('takes names starting with notify. and nothing else', () => {
    expect(isNotifyEvent('notify.crm')).toBe(true);
    expect(isNotifyEvent('notify.bulk:progress')).toBe(true);
    expect(isNotifyEvent('notify.')).toBe(false);
    expect(isNotifyEvent('crm.notify')).toBe(false);
    expect(isNotifyEvent('new-message')).toBe(false);
    expect(isNotifyEvent(42)).toBe(false);
  });
});

describe('notifyContent', () => {
  it('uses the title, message and level of the data', () => {
    expect(notifyContent('notify.crm', { title: 'New contact', message: 'Ada', level: 'success' })).toEqual({
      title: 'New contact',
      body: 'Ada',
      level: 'success',
    });
  });

  it('is info when the level is missing or not one of the four', () => {
    expect(notifyContent('notify.crm', { title: 'New contact', message: 'Ada' }).level).toBe('info');
    expect(notifyContent('notify.crm', { title: 'x', level: 'critical' }).level).toBe('info');
    expect(notifyContent('notify.crm', { title: 'x', level: 'warning' }).level).toBe('warning');
    expect(notifyContent('notify.crm', { title: 'x', level: 'error' }).level).toBe('error');
  });

  it('titles a message-only toast with the event name', () => {
    expect(notifyContent('notify.whatsapp', { message: 'Line 2 is down', level: 'error' })).toEqual({
      title: 'notify.whatsapp',
      body: 'Line 2 is down',
      level: 'error',
    });
  });

  it('has no body for a title alone', () => {
    expect(notifyContent('notify.bulk', { title: 'Bulk send done' })).toEqual({ title: 'Bulk send done', level: 'info' });
  });

  it('shows other data as the event name and shortened JSON', () => {
    expect(notifyContent('notify.bulk', { sent: 120, total: 500 })).toEqual({
      title: 'notify.bulk',
      body: '{"sent":120,"total":500}',
      level: 'info',
    });
    expect(notifyContent('notify.ping', 'hello')).toEqual({ title: 'notify.ping', body: '"hello"', level: 'info' });
    expect(notifyContent('notify.list', [1, 2])).toEqual({ title: 'notify.list', body: '[1,2]', level: 'info' });
    expect(notifyContent('notify.null', null)).toEqual({ title: 'notify.null', body: 'null', level: 'info' });
    expect(notifyContent('notify.none', undefined)).toEqual({ title: 'notify.none', level: 'info' });
    // Blank title and message count as missing; the level is still read.
    expect(notifyContent('notify.blank', { title: '  ', message: '', level: 'warning' })).toEqual({
      title: 'notify.blank',
      body: '{"title":"  ","message":"","level":"warning"}',
      level: 'warning',
    });
  });

  it('shortens long JSON, titles and messages', () => {
    const big = { rows: Array.from({ length: 200 }, (_, i) => i) };
    const { body } = notifyContent('notify.big', big);
    expect(Array.from(body ?? '').length).toBe(BODY_MAX);
    expect(body?.endsWith('…')).toBe(true);
    expect(body?.startsWith('{"rows":[0,1,2')).toBe(true);
    const long = notifyContent('notify.x', { title: 't'.repeat(500), message: 'm'.repeat(500) });
    expect(long.title.length).toBeLessThan(500);
    expect(long.body?.length).toBeLessThan(500);
  });
});

describe('shorten and shortJson', () => {
  it('never cuts an emoji in half', () => {
    expect(shorten('😀😀😀😀', 3)).toBe('😀😀…');
    expect(shorten('short', 10)).toBe('short');
  });

  it('survives data JSON cannot write', () => {
    const loop: Record<string, unknown> = {};
    loop.self = loop;
    expect(shortJson(loop)).toBe('[object Object]');
    expect(shortJson(undefined)).toBe('');
  });
});
