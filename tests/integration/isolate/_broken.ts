export const never = () => 1;
throw new RangeError("this module fails while loading");
