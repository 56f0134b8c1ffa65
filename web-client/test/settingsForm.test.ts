import { describe, expect, it } from 'vitest';
import type { TenantSettings } from '../src/chat/protocol';
import { formToSettings, normalizeHours, settingsPatch, settingsToForm } from '../src/chat/settingsForm';

const settings: TenantSettings = {
  routing: 'auto',
  defaultMaxChats: 4,
  reassignAfterOfflineSeconds: 120,
  businessHours: {
    timezone: 'Europe/Madrid',
    weekly: { mon: [['09:00', '13:00'], ['15:00', '18:00']], sat: [['10:00', '14:00']] },
  },
  offlineMessage: 'We are closed.',
  ratingsEnabled: false,
};

describe('settings form', () => {
  it('round-trips the server settings unchanged', () => {
    const { settings: back, errors } = formToSettings(settingsToForm(settings));
    expect(errors).toEqual({});
    expect(back).toEqual(settings);
    expect(settingsPatch(settings, back)).toEqual({});
  });

  it('shows "never" for a null reassignment and sends null back', () => {
    const form = settingsToForm({ ...settings, reassignAfterOfflineSeconds: null });
    expect(form.reassignNever).toBe(true);
    expect(formToSettings(form).settings.reassignAfterOfflineSeconds).toBeNull();
  });

  it('sends null hours when always open, and offers office hours when switched on', () => {
    const form = settingsToForm({ ...settings, businessHours: null }, 'Europe/Lisbon');
    expect(form.hoursEnabled).toBe(false);
    expect(formToSettings(form).settings.businessHours).toBeNull();
    const on = formToSettings({ ...form, hoursEnabled: true }).settings.businessHours;
    expect(on?.timezone).toBe('Europe/Lisbon');
    expect(Object.keys(on?.weekly ?? {})).toEqual(['mon', 'tue', 'wed', 'thu', 'fri']);
    expect(on?.weekly.mon).toEqual([['09:00', '17:00']]);
  });

  it('leaves closed days out and sorts a day’s ranges by start', () => {
    const form = settingsToForm(settings);
    form.weekly.mon = [form.weekly.mon[1], form.weekly.mon[0]];
    form.weekly.sat = [];
    expect(formToSettings(form).settings.businessHours).toEqual({
      timezone: 'Europe/Madrid',
      weekly: { mon: [['09:00', '13:00'], ['15:00', '18:00']] },
    });
  });

  it('turns a blank offline message into null', () => {
    const form = { ...settingsToForm(settings), offlineMessage: '   ' };
    expect(formToSettings(form).settings.offlineMessage).toBeNull();
  });

  it('flags numbers out of range and bad time ranges before asking the server', () => {
    const form = settingsToForm(settings);
    form.defaultMaxChats = '101';
    form.reassignAfterOfflineSeconds = '-1';
    form.weekly.tue = [{ key: 'x', start: '18:00', end: '09:00' }];
    form.weekly.wed = [{ key: 'y', start: '25:00', end: '26:00' }];
    const { errors } = formToSettings(form);
    expect(Object.keys(errors).sort()).toEqual(['defaultMaxChats', 'hours.tue', 'hours.wed', 'reassignAfterOfflineSeconds']);
  });

  it('does not check the reassignment delay when it is "never"', () => {
    const form = { ...settingsToForm(settings), reassignNever: true, reassignAfterOfflineSeconds: 'soon' };
    expect(formToSettings(form).errors).toEqual({});
  });

  it('patches only what changed, among the fields the server sent', () => {
    const form = { ...settingsToForm(settings), routing: 'manual' as const, ratingsEnabled: true };
    const next = formToSettings(form).settings;
    expect(settingsPatch(settings, next)).toEqual({ routing: 'manual', ratingsEnabled: true });
    const older: Partial<TenantSettings> = { routing: 'auto', defaultMaxChats: 4 };
    expect(settingsPatch(older, next)).toEqual({ routing: 'manual' });
  });

  it('compares hours without caring for closed days or range order', () => {
    expect(normalizeHours({ timezone: 'UTC', weekly: { mon: [], tue: [['12:00', '13:00'], ['08:00', '09:00']] } })).toEqual({
      timezone: 'UTC',
      weekly: { tue: [['08:00', '09:00'], ['12:00', '13:00']] },
    });
  });
});
