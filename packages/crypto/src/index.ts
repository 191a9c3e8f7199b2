/**
 * @schoolmesh/crypto: every cryptographic operation of Schoolmesh, as thin wrappers over audited libraries
 * (WebCrypto first, @noble/* and @hpke/core otherwise). See README.md for the choices and measurements.
 */
export { CryptoError, type CryptoErrorCode } from './errors.ts';
export { BLOB_KEY_BYTES, BLOB_NONCE_BYTES, BLOB_OVERHEAD_BYTES, blobId, openBlob, paddedLength, type SealedBlob, sealBlob } from './blob.ts';
export { type Backend, cryptoBackends, useNobleFallback } from './backend.ts';
export {
  clearVerificationCaches,
  generateSigningKeyPair,
  signatureVerifications,
  SIGNATURE_BYTES,
  SIGNING_PUBLIC_KEY_BYTES,
  SIGNING_SEED_BYTES,
  type SigningKeyPair,
  signingKeyPairFromSeed,
  VERIFY_KEY_CACHE_SIZE,
  VERIFIED_CACHE_SIZE,
  verifySignature,
  verifySignatures,
} from './ed25519.ts';
export {
  AGREEMENT_KEY_BYTES,
  type AgreementKeyPair,
  agreementKeyPairFromSecret,
  generateAgreementKeyPair,
  HPKE_SUITE,
  openSealed,
  SEALED_ENC_BYTES,
  SEALED_OVERHEAD_BYTES,
  sealToPublicKey,
} from './agreement.ts';
export { useVerifyPool } from './verify-pool.ts';
export { AEAD_KEY_BYTES, AEAD_NAME, AEAD_NONCE_BYTES, AEAD_TAG_BYTES, type AeadKey, aeadBackend, aeadKey, useNativeAead } from './aead.ts';
export { hchacha20, nativeXChaCha } from './xchacha-native.ts';
export { constantTimeEqual, hkdfSha256, randomBytes, sha256, sha256Parts, sha256Portable } from './hash.ts';
export {
  deriveKeyFromPassphrase,
  PASSPHRASE_ITERATIONS,
  PASSPHRASE_KDF,
  PASSPHRASE_MIN_SALT_BYTES,
} from './passphrase.ts';
