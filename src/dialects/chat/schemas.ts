// The chat-completions body of seeds 000/001: OpenAI's chat request with `model: gpt-4o-image`
// and a user message of `text` and `image_url` parts. `ChatBody` validates the envelope; the parts
// are read one by one in content.ts, so an unsupported part gets a sentence, not a schema dump.
// `ChatBodyDoc` spells the parts out for /openapi.json.
import { Type, type Static } from 'typebox';

const ROLES = ['system', 'developer', 'user', 'assistant', 'tool', 'function'] as const;
const role = Type.Union(ROLES.map((r) => Type.Literal(r)));

const LoosePart = Type.Object({ type: Type.String({ description: 'text or image_url' }) });

const Message = Type.Object({
  role,
  content: Type.Optional(Type.Union([Type.String(), Type.Array(LoosePart, { minItems: 1 }), Type.Null()])),
  name: Type.Optional(Type.String()),
});

const StreamOptions = Type.Object({ include_usage: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])) });

export const ChatBody = Type.Object({
  model: Type.String({ minLength: 1 }),
  messages: Type.Array(Message, { minItems: 1 }),
  stream: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
  stream_options: Type.Optional(Type.Union([StreamOptions, Type.Null()])),
});
export type ChatBody = Static<typeof ChatBody>;

const TextPart = Type.Object({ type: Type.Literal('text'), text: Type.String() });
const ImagePart = Type.Object({
  type: Type.Literal('image_url'),
  image_url: Type.Object({
    url: Type.String({ description: 'An https URL, or a data: URL (base64) of a PNG, JPEG or WebP image of at most 10 MB.' }),
    detail: Type.Optional(Type.Union([Type.Literal('auto'), Type.Literal('low'), Type.Literal('high')])),
  }),
});

export const ChatBodyDoc = Type.Object(
  {
    model: Type.Literal('gpt-4o-image'),
    messages: Type.Array(
      Type.Object({
        role,
        content: Type.Union([Type.String(), Type.Array(Type.Union([TextPart, ImagePart]), { minItems: 1 })]),
      }),
      { minItems: 1, description: "The last user message is drawn: its text is the prompt, its image_url parts (at most 5) the reference images." },
    ),
    stream: Type.Optional(Type.Boolean({ description: 'Stream chat.completion.chunk events with progress lines, ending with data: [DONE].' })),
    stream_options: Type.Optional(StreamOptions),
  },
  { description: 'Chat-completion image generation (seeds 000/001).' },
);
