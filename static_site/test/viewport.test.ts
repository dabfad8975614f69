import {describe, expect, it} from 'vitest';
import {appHeight} from '../src/viewport';

describe('the app height that follows the visual viewport', () => {
  it('is the visible height, so an on-screen keyboard shortens the app instead of covering the composer', () => {
    expect(appHeight({height: 500, scale: 1})).toBe('500px');
    expect(appHeight({height: 499.6, scale: 1})).toBe('500px');
  });

  it('is left to CSS when zoomed in (the visual viewport is then a magnified part of the page) or unknown', () => {
    expect(appHeight({height: 300, scale: 2})).toBeNull();
    expect(appHeight({height: 0, scale: 1})).toBeNull();
    expect(appHeight(null)).toBeNull();
  });
});
