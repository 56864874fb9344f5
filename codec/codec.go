// Package codec encrypts every Temporal payload with AES-256-GCM so that no
// personal data is stored in Temporal in the clear. Keys come from
// DSR_PAYLOAD_KEY; the key id travels in each payload's metadata so keys can
// be rotated without losing old histories.
package codec

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/proto"
)

const (
	// MetadataEncodingEncrypted marks an encrypted payload (the value of the
	// standard "encoding" metadata key), as in Temporal's encryption sample.
	MetadataEncodingEncrypted = "binary/encrypted"
	// MetadataEncryptionKeyID names the key that encrypted the payload.
	MetadataEncryptionKeyID = "encryption-key-id"

	keySize = 32 // AES-256
	// defaultKeyID is the id of a key given bare, without "id:".
	defaultKeyID = "k1"
)

var keyIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// ErrUnknownKey is returned when a payload names a key id the codec does
// not hold (it was encrypted with a key that has since been removed).
var ErrUnknownKey = errors.New("payload encrypted with an unknown key")

// ErrNotEncrypted is returned by a strict codec for a payload that is not
// encrypted with one of its keys.
var ErrNotEncrypted = errors.New("payload not encrypted: a production worker takes only payloads encrypted with DSR_PAYLOAD_KEY")

// Codec is a converter.PayloadCodec. It is safe for concurrent use.
type Codec struct {
	encryptID string
	aeads     map[string]cipher.AEAD
	strict    bool
}

// Strict returns a codec with the same keys that refuses to decode a
// payload not encrypted with one of them (anything but an empty null). A
// production worker uses it, so an update, signal or start sent by anyone
// who does not hold the key (a hand-made request to Temporal, the Temporal
// UI) is refused before the workflow sees it; nothing the register writes
// is ever unencrypted.
func (c *Codec) Strict() *Codec {
	s := *c
	s.strict = true
	return &s
}

var _ converter.PayloadCodec = (*Codec)(nil)

// New parses a key specification: one or more "keyid:base64key" separated by
// commas, or a single bare base64 key (id "k1"). The first key encrypts; all
// of them decrypt, so a new key is rotated in by putting it first and keeping
// the old ones after it until no history needs them.
func New(spec string) (*Codec, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, errors.New("payload key: empty; set DSR_PAYLOAD_KEY (codec.GenerateKey makes one)")
	}
	c := &Codec{aeads: map[string]cipher.AEAD{}}
	for i, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		id, b64, found := strings.Cut(part, ":")
		if !found {
			if i > 0 || strings.Contains(spec, ",") {
				return nil, fmt.Errorf("payload key %d: want keyid:base64key when several keys are given", i+1)
			}
			id, b64 = defaultKeyID, part
		}
		if !keyIDPattern.MatchString(id) {
			return nil, fmt.Errorf("payload key %d: key id %q must be 1 to 64 letters, digits, '.', '_' or '-'", i+1, id)
		}
		if _, dup := c.aeads[id]; dup {
			return nil, fmt.Errorf("payload key %d: key id %q given twice", i+1, id)
		}
		key, err := decodeKey(b64)
		if err != nil {
			return nil, fmt.Errorf("payload key %q: %w", id, err)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("payload key %q: %w", id, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("payload key %q: %w", id, err)
		}
		c.aeads[id] = aead
		if i == 0 {
			c.encryptID = id
		}
	}
	return c, nil
}

// decodeKey accepts standard or URL-safe base64, padded or not, and insists
// on exactly 32 bytes.
func decodeKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != keySize {
				return nil, fmt.Errorf("key is %d bytes; AES-256 needs %d (base64 of 32 random bytes)", len(b), keySize)
			}
			return b, nil
		}
	}
	return nil, errors.New("key is not valid base64")
}

// GenerateKey returns a new key specification "keyid:base64key" with a random
// 256-bit key and a random id, ready for DSR_PAYLOAD_KEY.
func GenerateKey() string {
	key := make([]byte, keySize)
	id := make([]byte, 4)
	// crypto/rand.Read never returns an error (it panics if the OS fails).
	rand.Read(key)
	rand.Read(id)
	return "k-" + hex.EncodeToString(id) + ":" + base64.StdEncoding.EncodeToString(key)
}

// EncryptingKeyID is the id of the key new payloads are encrypted with.
func (c *Codec) EncryptingKeyID() string { return c.encryptID }

// aad binds the ciphertext to its key id, so metadata cannot be swapped
// onto another payload's ciphertext unnoticed.
func aad(keyID string) []byte { return []byte(MetadataEncodingEncrypted + "\x00" + keyID) }

// Encode encrypts each payload: the whole original payload (data and
// metadata) is marshalled and sealed, so its encoding is hidden too.
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	aead := c.aeads[c.encryptID]
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		plain, err := proto.Marshal(p)
		if err != nil {
			return payloads, fmt.Errorf("codec: marshal payload: %w", err)
		}
		// nonce || ciphertext; the nonce is random per payload (96 bits, as
		// GCM wants; collision risk is negligible at our volumes).
		buf := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
		rand.Read(buf)
		sealed := aead.Seal(buf, buf, plain, aad(c.encryptID))
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{
				converter.MetadataEncoding: []byte(MetadataEncodingEncrypted),
				MetadataEncryptionKeyID:    []byte(c.encryptID),
			},
			Data: sealed,
		}
	}
	return out, nil
}

// Decode decrypts each encrypted payload. Payloads that are not encrypted
// (written before the codec was on, or by a client without it) pass through
// unchanged, so old histories stay readable.
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if string(p.GetMetadata()[converter.MetadataEncoding]) != MetadataEncodingEncrypted {
			if c.strict && !isEmptyNull(p) {
				return payloads, ErrNotEncrypted
			}
			out[i] = p
			continue
		}
		id := string(p.Metadata[MetadataEncryptionKeyID])
		aead, ok := c.aeads[id]
		if !ok {
			return payloads, fmt.Errorf("codec: key id %q: %w", id, ErrUnknownKey)
		}
		if len(p.Data) < aead.NonceSize()+aead.Overhead() {
			return payloads, fmt.Errorf("codec: encrypted payload too short (%d bytes)", len(p.Data))
		}
		nonce, sealed := p.Data[:aead.NonceSize()], p.Data[aead.NonceSize():]
		plain, err := aead.Open(nil, nonce, sealed, aad(id))
		if err != nil {
			return payloads, fmt.Errorf("codec: decrypt with key %q: payload altered or wrong key: %w", id, err)
		}
		var orig commonpb.Payload
		if err := proto.Unmarshal(plain, &orig); err != nil {
			return payloads, fmt.Errorf("codec: unmarshal decrypted payload: %w", err)
		}
		out[i] = &orig
	}
	return out, nil
}

// isEmptyNull is a payload that holds nothing: nil, or the converter's
// null with no data. It carries nothing to protect.
func isEmptyNull(p *commonpb.Payload) bool {
	if p == nil {
		return true
	}
	enc := string(p.GetMetadata()[converter.MetadataEncoding])
	return len(p.GetData()) == 0 && (enc == "" || enc == converter.MetadataEncodingNil)
}

// DataConverter wraps the SDK's default converter with the codec; give it
// to every client (workers inherit it from their client).
func DataConverter(c *Codec) converter.DataConverter {
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), c)
}

// FailureConverter encodes error messages and stack traces with the codec
// too: by default Temporal stores them in the clear, and an error message
// can quote personal data.
func FailureConverter(c *Codec) converter.FailureConverter {
	return temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{
		DataConverter:          DataConverter(c),
		EncodeCommonAttributes: true,
	})
}
