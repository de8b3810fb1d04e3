import { describe, expect, it } from 'vitest';
import { memberChangeRefusal } from './policy.ts';

describe('member management policy', () => {
  it('lets owners do anything', () => {
    expect(memberChangeRefusal('owner', { kind: 'add', role: 'owner' })).toBeNull();
    expect(memberChangeRefusal('owner', { kind: 'change', from: 'owner', to: 'member' })).toBeNull();
    expect(memberChangeRefusal('owner', { kind: 'remove', role: 'owner', self: false })).toBeNull();
  });

  it('lets admins manage members and admins but not owners', () => {
    expect(memberChangeRefusal('admin', { kind: 'add', role: 'member' })).toBeNull();
    expect(memberChangeRefusal('admin', { kind: 'add', role: 'admin' })).toBeNull();
    expect(memberChangeRefusal('admin', { kind: 'change', from: 'member', to: 'admin' })).toBeNull();
    expect(memberChangeRefusal('admin', { kind: 'remove', role: 'admin', self: false })).toBeNull();
    expect(memberChangeRefusal('admin', { kind: 'add', role: 'owner' })).toMatch(/Only owners/);
    expect(memberChangeRefusal('admin', { kind: 'change', from: 'member', to: 'owner' })).toMatch(
      /Only owners/,
    );
    expect(memberChangeRefusal('admin', { kind: 'change', from: 'owner', to: 'admin' })).toMatch(
      /Only owners/,
    );
    expect(memberChangeRefusal('admin', { kind: 'remove', role: 'owner', self: false })).toMatch(
      /Only owners/,
    );
  });

  it('lets members manage nobody', () => {
    expect(memberChangeRefusal('member', { kind: 'add', role: 'member' })).toMatch(/owners and admins/);
    expect(memberChangeRefusal('member', { kind: 'change', from: 'member', to: 'admin' })).toMatch(
      /owners and admins/,
    );
    expect(memberChangeRefusal('member', { kind: 'remove', role: 'member', self: false })).toMatch(
      /owners and admins/,
    );
  });

  it('lets anyone leave', () => {
    expect(memberChangeRefusal('member', { kind: 'remove', role: 'member', self: true })).toBeNull();
    expect(memberChangeRefusal('admin', { kind: 'remove', role: 'admin', self: true })).toBeNull();
  });
});
