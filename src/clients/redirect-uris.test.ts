import { describe, expect, it } from 'vitest';
import { redirectUriProblem } from './redirect-uris.ts';

describe('redirectUriProblem', () => {
  it('accepts https anywhere and http on loopback only', () => {
    for (const ok of [
      'https://app.example.com/callback',
      'https://app.example.com:8443/cb?tenant=1',
      'http://127.0.0.1:8080/cb',
      'http://localhost/cb',
      'http://[::1]:3000/cb',
    ]) {
      expect(redirectUriProblem(ok), ok).toBeUndefined();
    }
  });

  it('names what is wrong with the others', () => {
    expect(redirectUriProblem('http://app.example.com/cb')).toMatch(/https/);
    expect(redirectUriProblem('http://127.0.0.1.evil.com/cb')).toMatch(/https/);
    expect(redirectUriProblem('https://app.example.com/cb#x')).toMatch(/fragment/);
    expect(redirectUriProblem('https://app.example.com/cb#')).toMatch(/fragment/);
    expect(redirectUriProblem('https://u:p@app.example.com/cb')).toMatch(/credentials/);
    expect(redirectUriProblem('javascript:alert(1)')).toMatch(/https/);
    expect(redirectUriProblem('com.example.app:/cb')).toMatch(/https/);
    expect(redirectUriProblem('/relative/cb')).toMatch(/absolute/);
    expect(redirectUriProblem('')).toMatch(/absolute/);
  });
});
