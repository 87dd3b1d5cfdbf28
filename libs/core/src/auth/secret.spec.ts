import { hashSecret, newApiKey, prefixOfApiKey, secretMatches } from './secret';

describe('API key secrets', () => {
  it('finds the prefix of a key it made', () => {
    const { key, prefix } = newApiKey();
    expect(prefixOfApiKey(key)).toBe(prefix);
  });

  it('rejects strings that are not engram keys', () => {
    expect(prefixOfApiKey('egm_short_x')).toBeNull();
    expect(prefixOfApiKey('Bearer something')).toBeNull();
  });

  it('matches a secret only against its own hash', () => {
    const { key } = newApiKey();
    expect(secretMatches(key, hashSecret(key))).toBe(true);
    expect(secretMatches(`${key}x`, hashSecret(key))).toBe(false);
  });
});
