/**
 * Bounds on what a client may claim: a training reply's example count and loss are bounded,
 * and the identity challenge and proof have exact shapes. A bad value is a ProtocolError naming the field. The
 * coordinator's notices (auth:refused, round:end, run:end) and a client's acknowledgement envelope are validated
 * too, and a code outside the catalogue never passes through as such.
 */
import { expect } from 'chai';
import { ProtocolError } from '../shared/protocol/errors.js';
import {
  MAX_CLAIMED_EXAMPLES,
  MAX_REPORTED_LOSS,
  parseAck,
  parseAuthRefused,
  parseIdentityChallenge,
  parseIdentityProof,
  parseRoundEnd,
  parseRunEnd,
  parseTrainReply,
  parseTrainRequest,
} from '../shared/protocol/schemas.js';

const refusal = (f: () => unknown): string => {
  try {
    f();
  } catch (err) {
    expect(err).to.be.instanceOf(ProtocolError);
    return (err as Error).message;
  }
  return 'accepted';
};

describe('protocol schemas: bounds on client claims', () => {
  it('bounds numExamples and loss of a training reply', () => {
    expect(parseTrainReply({ numExamples: 600, loss: 0.7 }, 10, false).numExamples).to.equal(600);
    expect(refusal(() => parseTrainReply({ numExamples: MAX_CLAIMED_EXAMPLES + 1, loss: 0.7 }, 10, false))).to.match(/^round:train reply\.numExamples: /);
    expect(refusal(() => parseTrainReply({ numExamples: -1, loss: 0.7 }, 10, false))).to.match(/^round:train reply\.numExamples: /);
    expect(refusal(() => parseTrainReply({ numExamples: 600, loss: -0.5 }, 10, false))).to.match(/^round:train reply\.loss: /);
    expect(refusal(() => parseTrainReply({ numExamples: 600, loss: MAX_REPORTED_LOSS * 10 }, 10, false))).to.match(/^round:train reply\.loss: /);
    expect(refusal(() => parseTrainReply({ numExamples: 600, loss: NaN }, 10, false))).to.match(/^round:train reply\.loss: /);
  });

  it('takes a challenge and a proof only in their exact shapes', () => {
    expect(parseIdentityChallenge({ nonce: 'ab'.repeat(32) })).to.have.length(32);
    expect(refusal(() => parseIdentityChallenge({ nonce: 'AB'.repeat(32) }))).to.match(/^identity challenge\.nonce: expected 64 lowercase hex digits/);
    expect(parseIdentityProof({ signature: '0f'.repeat(64) })).to.have.length(64);
    expect(refusal(() => parseIdentityProof({ signature: '0f'.repeat(64), extra: 1 }))).to.match(/^identity proof: /);
    expect(refusal(() => parseIdentityProof('0f'))).to.match(/^identity proof: /);
  });
});

describe('protocol schemas: notices and acknowledgements', () => {
  it('an acknowledgement is a reply or a refusal with a catalogued code; anything else is malformed', () => {
    expect(parseAck({ ok: true, reply: { x: 1 } }, 'ack')).to.deep.equal({ ok: true, reply: { x: 1 } });
    expect(parseAck({ ok: false, error: { code: 'stale-round', message: 'over' } }, 'ack')).to.deep.equal({ ok: false, error: { code: 'stale-round', message: 'over' } });
    // A peer's code the catalogue does not know (Node's ENOENT, say) arrives as internal.
    expect(parseAck({ ok: false, error: { code: 'ENOENT', message: 'no such file' } }, 'ack')).to.deep.equal({ ok: false, error: { code: 'internal', message: 'no such file' } });
    for (const bad of [null, 'ok', {}, { ok: 'yes', reply: 1 }, { ok: false }, { ok: false, error: { code: 7, message: 'x' } }, { ok: false, error: { code: 'auth' } }]) {
      expect(
        refusal(() => parseAck(bad, 'ack')),
        JSON.stringify(bad),
      ).to.match(/^ack/);
    }
  });

  it('auth:refused carries a catalogued code (an unknown one reads as auth) and a message', () => {
    expect(parseAuthRefused({ code: 'not-enrolled', message: 'no' })).to.deep.equal({ code: 'not-enrolled', message: 'no' });
    expect(parseAuthRefused({ code: 'made-up', message: 'no' })).to.deep.equal({ code: 'auth', message: 'no' });
    expect(refusal(() => parseAuthRefused({ code: 'auth' }))).to.match(/^auth:refused\.message: /);
    expect(refusal(() => parseAuthRefused('refused'))).to.match(/^auth:refused: /);
  });

  it('round:end and run:end have their exact shapes', () => {
    expect(parseRoundEnd({ round: 2, status: 'aborted', reason: 'below t' })).to.deep.equal({ round: 2, status: 'aborted', reason: 'below t' });
    expect(refusal(() => parseRoundEnd({ round: 2, status: 'done' }))).to.match(/^round:end\.status: /);
    expect(refusal(() => parseRoundEnd({ round: 0, status: 'completed' }))).to.match(/^round:end\.round: /);
    expect(refusal(() => parseRoundEnd({ status: 'completed' }))).to.match(/^round:end\.round: /);
    expect(parseRunEnd({ rounds: 3 })).to.deep.equal({ rounds: 3 });
    expect(refusal(() => parseRunEnd({ rounds: -1 }))).to.match(/^run:end\.rounds: /);
    expect(refusal(() => parseRunEnd(undefined))).to.match(/^run:end: /);
  });

  it('a train request decodes its float32 fields, and refuses a shared set that does not split into its images', () => {
    const train = { epochs: 1, batchSize: 8, lr: 0.1, momentum: 0, seed: 1, sharedLossWeight: 1 };
    const weights = new Uint8Array(new Float32Array([1, 2]).buffer);
    const r = parseTrainRequest({ round: 1, model: 'm', weights, train, returnWeights: true });
    expect([...r.weightsF32]).to.deep.equal([1, 2]);
    expect(r.sharedF32).to.equal(undefined);
    const x = new Uint8Array(new Float32Array([1, 2, 3, 4]).buffer);
    expect([...parseTrainRequest({ round: 2, model: 'm', weights, sharedSet: { x, labels: new Uint8Array(2) }, train, returnWeights: false }).sharedF32!]).to.deep.equal([1, 2, 3, 4]);
    expect(refusal(() => parseTrainRequest({ round: 2, model: 'm', weights, sharedSet: { x, labels: new Uint8Array(3) }, train, returnWeights: false }))).to.match(
      /^round:train\.sharedSet: 4 floats do not split into 3 images/,
    );
  });
});
