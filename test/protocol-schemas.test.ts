/**
 * Bounds on what a client may claim (issue 16, hole 11): a training reply's example count and loss are bounded,
 * and the identity challenge and proof have exact shapes. A bad value is a ProtocolError naming the field.
 */
import { expect } from 'chai';
import { ProtocolError } from '../shared/protocol/errors.js';
import { MAX_CLAIMED_EXAMPLES, MAX_REPORTED_LOSS, parseIdentityChallenge, parseIdentityProof, parseTrainReply } from '../shared/protocol/schemas.js';

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
